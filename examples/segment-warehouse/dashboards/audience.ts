import { defineDashboard } from 'tributary';

/**
 * The audience dashboard: overview KPIs, the sign-up funnel, weekly retention cohorts and sign-up
 * attribution. Tiles read the pipeline's report tables (`rpt_*`), which the warehouse tables
 * `audience_overview`, `conversion_funnel`, `retention_cohorts` and `signup_attribution` publish
 * row for row: the engine that serves dashboards cannot read PostgreSQL, so the dashboard shows the
 * same rows from the copy that lives beside it.
 */

/** Days of session start within the From / To filters (both optional). */
const inRange = (column: string) =>
  `($from IS NULL OR ${column} >= CAST($from AS DATE)) AND ($to IS NULL OR ${column} <= CAST($to AS DATE))`;

/** One overview number over the filtered days, recomputed from the day rows (never an average of averages). */
const kpi = (id: string, title: string, expression: string, format?: 'number' | 'percent') => ({
  id,
  title,
  kind: 'kpi' as const,
  sql: `SELECT ${expression} AS value FROM rpt_audience_overview WHERE ${inRange('day')}`,
  width: 2,
  ...(format ? { format } : {}),
});

export default defineDashboard({
  title: 'Audience',
  description: 'Vitalis web and app audience from the daily Segment drops: who comes, how they convert, who comes back, and what brought them.',
  filters: [
    { id: 'from', label: 'From', kind: 'date' },
    { id: 'to', label: 'To', kind: 'date' },
  ],
  tabs: [
    {
      title: 'Overview',
      tiles: [
        kpi('sessions', 'Sessions', 'sum(sessions)'),
        // A user active on several days counts once per day here: the overview is a sum of days.
        kpi('user_days', 'Users (sum of daily)', 'sum(users)'),
        kpi('new_users', 'New users', 'sum(new_users)'),
        kpi('pages_per_session', 'Pages per session', 'round(sum(page_views) / sum(sessions), 2)'),
        kpi('avg_duration', 'Avg. session (s)', 'round(sum(avg_session_duration_seconds * sessions) / sum(sessions), 1)'),
        kpi('bounce_rate', 'Bounce rate', 'sum(bounced_sessions) / sum(sessions)', 'percent'),
        {
          id: 'new_vs_repeat',
          title: 'New and repeat users per day',
          kind: 'timeseries',
          sql: `SELECT day, 'new' AS series, new_users AS value FROM rpt_audience_overview WHERE ${inRange('day')}
                UNION ALL SELECT day, 'repeat', repeat_users FROM rpt_audience_overview WHERE ${inRange('day')}
                ORDER BY 1, 2`,
          width: 6,
        },
        {
          id: 'overview_table',
          title: 'Audience overview by day',
          kind: 'table',
          sql: `SELECT day, sessions, users, new_users, repeat_users, page_views, round(pages_per_session, 2) AS pages_per_session,
                       round(avg_session_duration_seconds, 1) AS avg_session_seconds, round(100 * bounce_rate, 1) AS bounce_rate_pct
                FROM rpt_audience_overview WHERE ${inRange('day')} ORDER BY day`,
          width: 6,
        },
      ],
    },
    {
      title: 'Funnel and retention',
      tiles: [
        {
          id: 'funnel',
          title: 'Sign-up funnel (users reaching each step within 7 days of landing)',
          kind: 'funnel',
          sql: `SELECT step_name AS label, sum(users) AS value FROM rpt_conversion_funnel WHERE ${inRange('landing_day')}
                GROUP BY step, step_name ORDER BY step`,
          width: 5,
        },
        {
          id: 'retention',
          title: 'Weekly retention by first-session cohort',
          kind: 'heatmap',
          // x: weeks since the cohort's first week; y: the cohort (Monday of its first session) and its size.
          sql: `SELECT week_number AS week, strftime(cohort_week, '%Y-%m-%d') || ' (' || cohort_users || ' users)' AS cohort, retention
                FROM rpt_retention_cohorts WHERE ${inRange('cohort_week')} ORDER BY cohort_week, week_number`,
          width: 7,
          format: 'percent',
        },
      ],
    },
    {
      title: 'Attribution',
      tiles: [
        {
          id: 'first_touch',
          title: 'Sign-ups by first-touch source / medium',
          kind: 'bar',
          sql: `SELECT coalesce(first_touch_source, '(unknown)') || ' / ' || coalesce(first_touch_medium, '(unknown)') AS label, count(*) AS value
                FROM rpt_signup_attribution WHERE ${inRange('signup_day')} GROUP BY 1 ORDER BY value DESC, label LIMIT 12`,
          width: 6,
        },
        {
          id: 'last_touch',
          title: 'Sign-ups by last-touch source / medium',
          kind: 'bar',
          sql: `SELECT coalesce(last_touch_source, '(unknown)') || ' / ' || coalesce(last_touch_medium, '(unknown)') AS label, count(*) AS value
                FROM rpt_signup_attribution WHERE ${inRange('signup_day')} GROUP BY 1 ORDER BY value DESC, label LIMIT 12`,
          width: 6,
        },
        {
          id: 'attribution_table',
          title: 'First and last touch side by side',
          kind: 'table',
          sql: `WITH credits AS (
                  SELECT 'first' AS touch, coalesce(first_touch_source, '(unknown)') AS source, coalesce(first_touch_medium, '(unknown)') AS medium
                  FROM rpt_signup_attribution WHERE ${inRange('signup_day')}
                  UNION ALL
                  SELECT 'last', coalesce(last_touch_source, '(unknown)'), coalesce(last_touch_medium, '(unknown)')
                  FROM rpt_signup_attribution WHERE ${inRange('signup_day')}
                )
                SELECT source, medium, count(*) FILTER (WHERE touch = 'first') AS first_touch_signups, count(*) FILTER (WHERE touch = 'last') AS last_touch_signups
                FROM credits GROUP BY ALL ORDER BY first_touch_signups DESC, last_touch_signups DESC, source, medium`,
          width: 12,
        },
      ],
    },
  ],
});
