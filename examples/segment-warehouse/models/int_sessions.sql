-- int_sessions: one row per session. started_at/ended_at are its first and last event; duration in
-- seconds (millisecond precision). Landing page = first page view, exit page = last page view
-- (timestamp order, message_id breaking ties); the session's referrer and traffic source are its
-- landing page's; utm_* are the first non-null values on its page views; device_type is its first
-- event's. A session without page views (its page calls arrived in another day's drop, or were
-- malformed) has null landing, exit, referrer and source.
-- First and last values come from windows over each session in (timestamp, message_id) order, read
-- on its first row: a window sorts and spills to disk. Aggregates holding texts (first(… ORDER BY
-- …), arg_min_null over (timestamp, message_id)) keep them for every session at once and cannot
-- spill: a month of 30 M events ran out of 8 GB with them.
WITH bounds AS (
  SELECT session_id, anonymous_id, session_index, started_at, ended_at, events, device_type
  FROM (
    SELECT
      session_id,
      anonymous_id,
      session_index,
      row_number() OVER event_order AS event_rank,
      timestamp AS started_at,
      last_value(timestamp) OVER whole_session AS ended_at,
      count(*) OVER whole_session AS events,
      first_value(device_type IGNORE NULLS) OVER whole_session AS device_type
    FROM {{ ref('int_session_events') }}
    WINDOW
      event_order AS (PARTITION BY session_id ORDER BY timestamp, message_id),
      whole_session AS (PARTITION BY session_id ORDER BY timestamp, message_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  ) events
  WHERE event_rank = 1
),
views AS (
  SELECT session_id, page_views, landing_url, landing_path, exit_path, referrer_host, referrer_type, source, medium, utm_source, utm_medium, utm_campaign
  FROM (
    SELECT
      e.session_id,
      row_number() OVER view_order AS view_rank,
      count(*) OVER whole_session AS page_views,
      v.url AS landing_url,
      v.path AS landing_path,
      last_value(v.path) OVER whole_session AS exit_path,
      v.referrer_host,
      v.referrer_type,
      v.source,
      v.medium,
      first_value(v.utm_source IGNORE NULLS) OVER whole_session AS utm_source,
      first_value(v.utm_medium IGNORE NULLS) OVER whole_session AS utm_medium,
      first_value(v.utm_campaign IGNORE NULLS) OVER whole_session AS utm_campaign
    FROM {{ ref('int_session_events') }} e
    JOIN {{ ref('int_page_views') }} v USING (message_id)
    WINDOW
      view_order AS (PARTITION BY e.session_id ORDER BY v.timestamp, v.message_id),
      whole_session AS (PARTITION BY e.session_id ORDER BY v.timestamp, v.message_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  ) page_views
  WHERE view_rank = 1
)
SELECT
  b.session_id,
  b.anonymous_id,
  b.session_index,
  CAST(b.started_at AS DATE) AS day,
  b.started_at,
  b.ended_at,
  CAST((epoch_ms(b.ended_at) - epoch_ms(b.started_at)) / 1000 AS DECIMAL(12, 3)) AS duration_seconds,
  b.events,
  coalesce(v.page_views, 0) AS page_views,
  v.landing_url,
  v.landing_path,
  v.exit_path,
  v.referrer_host,
  v.referrer_type,
  v.source,
  v.medium,
  v.utm_source,
  v.utm_medium,
  v.utm_campaign,
  b.device_type
FROM bounds b
LEFT JOIN views v USING (session_id)
