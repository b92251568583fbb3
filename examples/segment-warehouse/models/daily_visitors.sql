-- daily_visitors: per UTC day (of the event's timestamp), unique visitors counted by blended id
-- (the event's user_id, else the user stitched to its browser, else the anonymous_id), how many of
-- them are identified users, and how many browsers were seen. Client-side events only: a
-- back-end event (no anonymous_id) is not a visit.
-- Rebuilt whole on every run: late events of earlier days arrive in later drops, and a browser
-- stitched to a user later changes who the visitors of earlier days were.
SELECT
  CAST(e.timestamp AS DATE) AS day,
  count(DISTINCT coalesce(e.user_id, u.user_id, e.anonymous_id)) AS visitors,
  count(DISTINCT coalesce(e.user_id, u.user_id)) AS identified_users,
  count(DISTINCT e.anonymous_id) AS browsers
FROM {{ ref('events') }} e
LEFT JOIN {{ ref('int_user_stitching') }} u USING (anonymous_id)
WHERE e.anonymous_id IS NOT NULL
GROUP BY CAST(e.timestamp AS DATE)
