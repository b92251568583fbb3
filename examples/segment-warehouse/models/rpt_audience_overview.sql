-- rpt_audience_overview: per day (UTC day of session start). users are blended users with a session
-- that day; new_users had their first session ever that day, repeat_users had one before.
-- Bounce: a session with exactly one page view. Pages per session and average duration are over
-- all sessions of the day. Sums are cast back to BIGINT (DuckDB widens them to HUGEINT, which no
-- warehouse column type needs).
SELECT
  day,
  count(*) AS sessions,
  count(DISTINCT blended_user_id) AS users,
  count(DISTINCT blended_user_id) FILTER (WHERE user_session_number = 1) AS new_users,
  count(DISTINCT blended_user_id) - count(DISTINCT blended_user_id) FILTER (WHERE user_session_number = 1) AS repeat_users,
  CAST(sum(page_views) AS BIGINT) AS page_views,
  sum(page_views) / count(*) AS pages_per_session,
  avg(duration_seconds) AS avg_session_duration_seconds,
  count(*) FILTER (WHERE page_views = 1) AS bounced_sessions,
  count(*) FILTER (WHERE page_views = 1) / count(*) AS bounce_rate
FROM {{ ref('int_stitched_sessions') }}
GROUP BY day
