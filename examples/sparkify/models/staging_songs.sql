-- Load of the song catalogue: one row per song file of `song_data/A/*/*/*.json`, every row kept
-- (the platform accounts for each source row). Columns are projected as delivered: the platform
-- has already turned an empty `artist_location` into NULL; `year` 0 means "unknown" and is kept.
SELECT
  num_songs,
  artist_id,
  artist_latitude,
  artist_longitude,
  artist_location,
  artist_name,
  song_id,
  title,
  duration,
  year
FROM {{ source('song_files') }}
