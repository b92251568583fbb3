-- int_stitched_sessions: sessions with the user behind them. blended_user_id is the stitched user_id
-- when the browser was ever identified (so sessions before sign-up count for the user too), else
-- the anonymous_id. user_session_number numbers a blended user's sessions from 1 in start order
-- (session_id breaking ties), across all their devices.
SELECT
  s.session_id,
  s.anonymous_id,
  u.user_id,
  coalesce(u.user_id, s.anonymous_id) AS blended_user_id,
  row_number() OVER (PARTITION BY coalesce(u.user_id, s.anonymous_id) ORDER BY s.started_at, s.session_id) AS user_session_number,
  s.day,
  s.started_at,
  s.ended_at,
  s.duration_seconds,
  s.events,
  s.page_views,
  s.landing_path,
  s.exit_path,
  s.referrer_type,
  s.source,
  s.medium,
  s.utm_campaign,
  s.device_type
FROM {{ ref('int_sessions') }} s
LEFT JOIN {{ ref('int_user_stitching') }} u USING (anonymous_id)
