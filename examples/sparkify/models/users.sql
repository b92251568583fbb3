-- Dimension: one row per logged-in user (user_id NOT NULL), with the user's LATEST level, so a
-- user who upgrades or downgrades is not duplicated (one of the known flaws this fixes).
-- "Latest" is the event with the greatest ts over every page, not only NextSong; at an equal ts
-- the greater (session_id, item_in_session) wins, which identifies an event. Name and gender
-- come from that same event.
SELECT
  user_id,
  first_name,
  last_name,
  gender,
  level
FROM {{ ref('staging_events') }}
WHERE user_id IS NOT NULL
QUALIFY row_number() OVER (
  PARTITION BY user_id
  ORDER BY ts DESC, session_id DESC, item_in_session DESC
) = 1
