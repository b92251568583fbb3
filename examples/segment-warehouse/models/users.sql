-- users: one row per user_id. first_seen_at/last_seen_at span every event that carries the
-- user_id (server-side ones included; anonymous browsing before sign-up is in stitched_sessions).
-- Traits: for each trait, its latest non-null value from identify calls (an identify may send only
-- some traits, e.g. the plan after an upgrade).
WITH activity AS (
  SELECT user_id, min(timestamp) AS first_seen_at, max(timestamp) AS last_seen_at, count(*) AS events
  FROM {{ ref('events') }}
  WHERE user_id IS NOT NULL
  GROUP BY user_id
),
latest_traits AS (
  SELECT
    user_id,
    first(email ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE email IS NOT NULL) AS email,
    first(first_name ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE first_name IS NOT NULL) AS first_name,
    first(plan ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE plan IS NOT NULL) AS plan,
    first(signup_date ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE signup_date IS NOT NULL) AS signup_date,
    first(age_band ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE age_band IS NOT NULL) AS age_band,
    first(country ORDER BY timestamp DESC, message_id DESC) FILTER (WHERE country IS NOT NULL) AS country,
    count(*) AS identifies
  FROM {{ ref('stg_identifies') }}
  WHERE user_id IS NOT NULL
  GROUP BY user_id
),
browsers AS (
  SELECT user_id, count(*) AS anonymous_ids
  FROM {{ ref('int_user_stitching') }}
  GROUP BY user_id
)
SELECT
  a.user_id,
  a.first_seen_at,
  a.last_seen_at,
  a.events,
  coalesce(t.identifies, 0) AS identifies,
  coalesce(b.anonymous_ids, 0) AS anonymous_ids,
  t.email,
  t.first_name,
  t.plan,
  t.signup_date,
  t.age_band,
  t.country
FROM activity a
LEFT JOIN latest_traits t USING (user_id)
LEFT JOIN browsers b USING (user_id)
