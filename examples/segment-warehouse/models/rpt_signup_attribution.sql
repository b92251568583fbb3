-- rpt_signup_attribution: one row per signed-up user (first signed_up event), with the sessions of
-- that user (stitched across devices) that started at or before the sign-up. First touch = the
-- earliest of them, last touch = the latest (usually the sign-up session itself); source and
-- medium are the session's (UTM values, else derived from the referrer). A sign-up with no such
-- session in the data (its session began before the data) has null touches.
WITH signups AS (
  SELECT user_id, min(timestamp) AS signed_up_at
  FROM {{ ref('stg_tracks') }}
  WHERE event = 'signed_up' AND user_id IS NOT NULL
  GROUP BY user_id
),
touches AS (
  SELECT g.user_id, g.signed_up_at, s.session_id, s.started_at, s.source, s.medium, s.utm_campaign
  FROM signups g
  LEFT JOIN {{ ref('int_stitched_sessions') }} s ON s.blended_user_id = g.user_id AND s.started_at <= g.signed_up_at
)
SELECT
  user_id,
  signed_up_at,
  CAST(signed_up_at AS DATE) AS signup_day,
  count(session_id) AS sessions_before_signup,
  first(source ORDER BY started_at, session_id) AS first_touch_source,
  first(medium ORDER BY started_at, session_id) AS first_touch_medium,
  first(utm_campaign ORDER BY started_at, session_id) AS first_touch_campaign,
  first(source ORDER BY started_at DESC, session_id DESC) AS last_touch_source,
  first(medium ORDER BY started_at DESC, session_id DESC) AS last_touch_medium,
  first(utm_campaign ORDER BY started_at DESC, session_id DESC) AS last_touch_campaign
FROM touches
GROUP BY user_id, signed_up_at
