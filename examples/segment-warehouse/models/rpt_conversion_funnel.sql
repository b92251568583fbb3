-- rpt_conversion_funnel: users reaching each step, in order, per landing day.
-- Steps: 1 landing (first page view) -> 2 symptom_checker_started -> 3 symptom_checker_completed
-- -> 4 signed_up -> 5 subscription_started. Users are blended per event (the event's user_id,
-- else the user stitched to its browser, else the anonymous_id), so the server-side
-- subscription_started (user_id only) joins the anonymous page views before sign-up.
-- Rule: a user's funnel starts at their first page view; each step counts at its first occurrence
-- at or after the previous step's time and before landing + 7 days.
WITH steps AS (
  SELECT coalesce(p.user_id, u.user_id, p.anonymous_id) AS blended_user_id, 1 AS step, p.timestamp
  FROM {{ ref('stg_pages') }} p
  LEFT JOIN {{ ref('int_user_stitching') }} u USING (anonymous_id)
  UNION ALL
  SELECT
    coalesce(t.user_id, u.user_id, t.anonymous_id),
    CASE t.event
      WHEN 'symptom_checker_started' THEN 2
      WHEN 'symptom_checker_completed' THEN 3
      WHEN 'signed_up' THEN 4
      WHEN 'subscription_started' THEN 5
    END,
    t.timestamp
  FROM {{ ref('stg_tracks') }} t
  LEFT JOIN {{ ref('int_user_stitching') }} u USING (anonymous_id)
  WHERE t.event IN ('symptom_checker_started', 'symptom_checker_completed', 'signed_up', 'subscription_started')
),
landed AS (
  SELECT blended_user_id, min(timestamp) AS at_1, min(timestamp) + INTERVAL 7 DAY AS window_end
  FROM steps
  WHERE step = 1
  GROUP BY blended_user_id
),
reached_2 AS (
  SELECT l.blended_user_id, min(s.timestamp) AS at_2
  FROM landed l
  JOIN steps s ON s.blended_user_id = l.blended_user_id AND s.step = 2 AND s.timestamp >= l.at_1 AND s.timestamp < l.window_end
  GROUP BY l.blended_user_id
),
reached_3 AS (
  SELECT r.blended_user_id, min(s.timestamp) AS at_3
  FROM reached_2 r
  JOIN landed l USING (blended_user_id)
  JOIN steps s ON s.blended_user_id = r.blended_user_id AND s.step = 3 AND s.timestamp >= r.at_2 AND s.timestamp < l.window_end
  GROUP BY r.blended_user_id
),
reached_4 AS (
  SELECT r.blended_user_id, min(s.timestamp) AS at_4
  FROM reached_3 r
  JOIN landed l USING (blended_user_id)
  JOIN steps s ON s.blended_user_id = r.blended_user_id AND s.step = 4 AND s.timestamp >= r.at_3 AND s.timestamp < l.window_end
  GROUP BY r.blended_user_id
),
reached_5 AS (
  SELECT r.blended_user_id, min(s.timestamp) AS at_5
  FROM reached_4 r
  JOIN landed l USING (blended_user_id)
  JOIN steps s ON s.blended_user_id = r.blended_user_id AND s.step = 5 AND s.timestamp >= r.at_4 AND s.timestamp < l.window_end
  GROUP BY r.blended_user_id
),
journeys AS (
  SELECT l.blended_user_id, CAST(l.at_1 AS DATE) AS landing_day, l.at_1, r2.at_2, r3.at_3, r4.at_4, r5.at_5
  FROM landed l
  LEFT JOIN reached_2 r2 USING (blended_user_id)
  LEFT JOIN reached_3 r3 USING (blended_user_id)
  LEFT JOIN reached_4 r4 USING (blended_user_id)
  LEFT JOIN reached_5 r5 USING (blended_user_id)
)
SELECT
  j.landing_day,
  s.step,
  s.step_name,
  count(CASE s.step WHEN 1 THEN j.at_1 WHEN 2 THEN j.at_2 WHEN 3 THEN j.at_3 WHEN 4 THEN j.at_4 ELSE j.at_5 END) AS users
FROM journeys j
CROSS JOIN (
  VALUES (1, 'landing'), (2, 'symptom_checker_started'), (3, 'symptom_checker_completed'), (4, 'signed_up'), (5, 'subscription_started')
) AS s(step, step_name)
GROUP BY j.landing_day, s.step, s.step_name
