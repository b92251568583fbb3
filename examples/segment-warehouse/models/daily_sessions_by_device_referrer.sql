-- daily_sessions_by_device_referrer: sessions per day of start, device type and referrer type of
-- the landing page ('unknown' for a session without page views).
-- Rebuilt whole on every run, like the sessions it counts (a session can span midnight and drops).
SELECT
  day,
  device_type,
  coalesce(referrer_type, 'unknown') AS referrer_type,
  count(*) AS sessions,
  count(*) FILTER (WHERE page_views = 1) AS bounced_sessions
FROM {{ ref('int_sessions') }}
GROUP BY ALL
