-- monthly_session_duration: average and median session duration per calendar month of session
-- start (UTC).
SELECT
  CAST(date_trunc('month', started_at) AS DATE) AS month,
  count(*) AS sessions,
  avg(duration_seconds) AS avg_session_duration_seconds,
  median(duration_seconds) AS median_session_duration_seconds
FROM {{ ref('int_sessions') }}
GROUP BY ALL
