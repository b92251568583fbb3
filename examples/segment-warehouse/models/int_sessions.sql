-- int_sessions: one row per session. started_at/ended_at are its first and last event; duration in
-- seconds (millisecond precision). Landing page = first page view, exit page = last page view
-- (timestamp order, message_id breaking ties); the session's referrer and traffic source are its
-- landing page's; utm_* are the first non-null values on its page views; device_type is its first
-- event's. A session without page views (its page calls arrived in another day's drop, or were
-- malformed) has null landing, exit, referrer and source.
-- First and last values are arg_min_null/arg_max_null over (timestamp, message_id), the same values
-- as first(… ORDER BY …) but held as one row per session: ordered aggregates keep every value of a
-- group until the end and cannot spill, and a month of 30 M events ran out of 6 GB with them.
WITH bounds AS (
  SELECT
    session_id,
    anonymous_id,
    session_index,
    min(timestamp) AS started_at,
    max(timestamp) AS ended_at,
    count(*) AS events,
    arg_min_null(device_type, (timestamp, message_id)) FILTER (WHERE device_type IS NOT NULL) AS device_type
  FROM {{ ref('int_session_events') }}
  GROUP BY session_id, anonymous_id, session_index
),
views AS (
  SELECT
    e.session_id,
    count(*) AS page_views,
    arg_min_null(v.url, (v.timestamp, v.message_id)) AS landing_url,
    arg_min_null(v.path, (v.timestamp, v.message_id)) AS landing_path,
    arg_max_null(v.path, (v.timestamp, v.message_id)) AS exit_path,
    arg_min_null(v.referrer_host, (v.timestamp, v.message_id)) AS referrer_host,
    arg_min_null(v.referrer_type, (v.timestamp, v.message_id)) AS referrer_type,
    arg_min_null(v.source, (v.timestamp, v.message_id)) AS source,
    arg_min_null(v.medium, (v.timestamp, v.message_id)) AS medium,
    arg_min_null(v.utm_source, (v.timestamp, v.message_id)) FILTER (WHERE v.utm_source IS NOT NULL) AS utm_source,
    arg_min_null(v.utm_medium, (v.timestamp, v.message_id)) FILTER (WHERE v.utm_medium IS NOT NULL) AS utm_medium,
    arg_min_null(v.utm_campaign, (v.timestamp, v.message_id)) FILTER (WHERE v.utm_campaign IS NOT NULL) AS utm_campaign
  FROM {{ ref('int_session_events') }} e
  JOIN {{ ref('int_page_views') }} v USING (message_id)
  GROUP BY e.session_id
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
