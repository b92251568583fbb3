-- Load of the listening log: one row per line of `log_data/YYYY/MM/*.json`, every row kept (the
-- platform accounts for each source row), logged-out rows (user_id NULL) included.
-- `dt` is the UTC day of the event, the date partition: `ts` is a UTC timestamp, so the cast
-- gives the same day whichever run (daily or full) loads the line.
-- `user_agent` is kept verbatim, literal surrounding quotes included.
SELECT
  artist,
  auth,
  first_name,
  gender,
  item_in_session,
  last_name,
  length,
  level,
  location,
  method,
  page,
  registration,
  session_id,
  song,
  status,
  ts,
  user_agent,
  user_id,
  CAST(ts AS DATE) AS dt
FROM {{ source('log_events') }}
