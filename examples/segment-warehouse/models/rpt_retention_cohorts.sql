-- rpt_retention_cohorts: weekly retention of blended users. Cohort = ISO week (Monday) of a user's
-- first session; week_number N = weeks since the cohort week; retention = share of the cohort
-- with at least one session in week N (week 0 is 1 by definition).
WITH user_weeks AS (
  SELECT DISTINCT blended_user_id, CAST(date_trunc('week', started_at) AS DATE) AS week
  FROM {{ ref('int_stitched_sessions') }}
),
cohorts AS (
  SELECT blended_user_id, min(week) AS cohort_week
  FROM user_weeks
  GROUP BY blended_user_id
),
cohort_sizes AS (
  SELECT cohort_week, count(*) AS cohort_users
  FROM cohorts
  GROUP BY cohort_week
)
SELECT
  c.cohort_week,
  CAST((w.week - c.cohort_week) / 7 AS INTEGER) AS week_number,
  z.cohort_users,
  count(*) AS active_users,
  count(*) / z.cohort_users AS retention
FROM cohorts c
JOIN user_weeks w USING (blended_user_id)
JOIN cohort_sizes z USING (cohort_week)
GROUP BY c.cohort_week, w.week, z.cohort_users
