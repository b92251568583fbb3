-- Fact table: one row per song played (page = 'NextSong') by a logged-in user.
--
-- songplay_id = md5('<session_id>|<item_in_session>|<ts as epoch ms>|<user_id>'), 32 hex digits.
-- It is computed from the event alone, so a daily run and a full run (and any re-run) give the
-- same id; md5 is the same in DuckDB, PostgreSQL, MySQL and node:crypto, unlike engine hashes.
-- (session_id, item_in_session) already identifies an event in the data; ts and user_id guard
-- against session ids being reused. A NULL part makes the id NULL, which the not-null check
-- catches rather than a silently shifted key.
--
-- Song matching (fixes the title-only join): title = song AND artist_name = artist AND
-- |duration - length| <= 0.001 s. Both durations come from the same catalogue with 5 decimals, so
-- a true match differs by at most rounding noise (0 in this data); different recordings of the
-- same title by the same artist are at least 0.052 s apart in the log, 50 times the tolerance.
-- Should two catalogue rows match one play, the closest duration wins, then the smallest song_id,
-- so a play never turns into two rows. Unmatched plays keep song_id and artist_id NULL.
--
-- user_id IS NOT NULL keeps songplays.user_id within `users` (no NextSong row is logged out in
-- the data; the condition makes the rule explicit).
SELECT
  play.songplay_id,
  play.ts AS start_time,
  play.user_id,
  play.level,
  song.song_id,
  song.artist_id,
  play.session_id,
  play.location,
  play.user_agent,
  CAST(year(play.ts) AS INTEGER) AS year,
  CAST(month(play.ts) AS INTEGER) AS month
FROM (
  SELECT
    *,
    md5(
      CAST(session_id AS VARCHAR) || '|' || CAST(item_in_session AS VARCHAR) || '|'
        || CAST(epoch_ms(ts) AS VARCHAR) || '|' || CAST(user_id AS VARCHAR)
    ) AS songplay_id
  FROM {{ ref('staging_events') }}
  WHERE page = 'NextSong' AND user_id IS NOT NULL
) AS play
LEFT JOIN {{ ref('staging_songs') }} AS song
  ON song.title = play.song
  AND song.artist_name = play.artist
  AND abs(song.duration - play.length) <= 0.001
QUALIFY row_number() OVER (
  PARTITION BY play.songplay_id
  ORDER BY abs(song.duration - play.length), song.song_id
) = 1
