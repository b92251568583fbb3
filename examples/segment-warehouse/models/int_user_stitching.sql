-- int_user_stitching: the user behind each browser (anonymous_id), learnt from every event that
-- carries both ids: identify calls and everything a logged-in browser sends afterwards. A user on
-- two devices has two rows. Rule: if one browser was used by several users, the latest wins
-- (latest timestamp, message_id breaking ties); users_seen shows when that happened.
SELECT
  anonymous_id,
  arg_max_null(user_id, (timestamp, message_id)) AS user_id,
  min(timestamp) AS first_identified_at,
  max(timestamp) AS last_identified_at,
  count(DISTINCT user_id) AS users_seen
FROM {{ ref('events') }}
WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL
GROUP BY anonymous_id
