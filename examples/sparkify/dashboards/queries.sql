-- Sparkify dashboard queries, one per tile. Each query is preceded by a `-- name:` line naming
-- it and a comment saying what it shows. They read the materialised models by their names
-- (songplays, time, users, staging_events), as dashboard tiles do.

-- name: plays_per_day
-- Song plays per UTC day (timeseries).
SELECT CAST(start_time AS DATE) AS day, count(*) AS plays
FROM songplays
GROUP BY ALL
ORDER BY day;

-- name: plays_per_hour
-- Song plays per hour of the day, UTC, all 24 hours shown (bar). Goes through the time
-- dimension, which has exactly one row per start_time, so the join cannot duplicate plays.
SELECT hours.hour, count(play.start_time) AS plays
FROM range(24) AS hours(hour)
LEFT JOIN (
  SELECT songplays.start_time, time.hour
  FROM songplays
  JOIN time ON time.start_time = songplays.start_time
) AS play ON play.hour = hours.hour
GROUP BY ALL
ORDER BY hours.hour;

-- name: top_songs
-- The 10 most played songs (bar). Read from the log's own song and artist names rather than
-- songplays ⋈ songs: the 71-song catalogue subset matches only 1 of the 6,820 plays, so the star
-- schema alone would show a single song. Ties are ordered by name so the tile is stable.
SELECT song, artist, count(*) AS plays
FROM staging_events
WHERE page = 'NextSong'
GROUP BY ALL
ORDER BY plays DESC, song, artist
LIMIT 10;

-- name: top_artists
-- The 10 most played artists (bar), from the log for the same reason as top_songs.
SELECT artist, count(*) AS plays
FROM staging_events
WHERE page = 'NextSong'
GROUP BY ALL
ORDER BY plays DESC, artist
LIMIT 10;

-- name: free_vs_paid
-- Free and paid users (by their latest level) and the plays made at each level (the level the
-- user had when playing), side by side (bar or table).
SELECT
  level,
  coalesce(user_counts.users, 0) AS users,
  coalesce(play_counts.plays, 0) AS plays
FROM (SELECT level, count(*) AS users FROM users GROUP BY ALL) AS user_counts
FULL JOIN (SELECT level, count(*) AS plays FROM songplays GROUP BY ALL) AS play_counts USING (level)
ORDER BY level;

-- name: sessions
-- Listening sessions (KPIs): how many sessions had at least one play and the average number of
-- songs played per such session. A session is a (user_id, session_id) pair, so a session id
-- reused by another user counts as another session.
SELECT
  count(*) AS sessions,
  round(avg(songs), 2) AS avg_songs_per_session
FROM (
  SELECT user_id, session_id, count(*) AS songs
  FROM songplays
  GROUP BY ALL
);
