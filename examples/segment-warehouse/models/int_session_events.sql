-- int_session_events: sessionisation. Every event of a browser (anonymous_id) with its session.
-- Rule: per anonymous_id, events in timestamp order (message_id breaks ties); an event 30 minutes
-- or more after the browser's previous event starts a new session. session_index counts sessions
-- of the browser from 1; session_id = anonymous_id || '-' || session_index. Server-side events
-- (no anonymous_id) belong to no session.
WITH flagged AS (
  SELECT
    message_id,
    anonymous_id,
    user_id,
    type,
    event,
    timestamp,
    device_type,
    CASE
      WHEN timestamp - lag(timestamp) OVER (PARTITION BY anonymous_id ORDER BY timestamp, message_id) < INTERVAL 30 MINUTE THEN 0
      ELSE 1
    END AS starts_session
  FROM {{ ref('events') }}
  WHERE anonymous_id IS NOT NULL
),
numbered AS (
  SELECT
    *,
    sum(starts_session) OVER (PARTITION BY anonymous_id ORDER BY timestamp, message_id ROWS UNBOUNDED PRECEDING) AS session_index
  FROM flagged
)
SELECT
  anonymous_id || '-' || session_index AS session_id,
  CAST(session_index AS INTEGER) AS session_index,
  message_id,
  anonymous_id,
  user_id,
  type,
  event,
  timestamp,
  device_type
FROM numbered
