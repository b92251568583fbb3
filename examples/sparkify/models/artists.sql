-- Dimension: ONE row per artist_id, although song files may spell an artist's location (or name)
-- differently (one of the known flaws this fixes). All four attributes come from a single song
-- record, so location and coordinates stay consistent with each other. The record chosen is the
-- most informative one: with both coordinates first, then with a location, then the smallest
-- song_id (deterministic whatever the file order).
SELECT
  artist_id,
  artist_name AS name,
  artist_location AS location,
  artist_latitude AS latitude,
  artist_longitude AS longitude
FROM {{ ref('staging_songs') }}
QUALIFY row_number() OVER (
  PARTITION BY artist_id
  ORDER BY
    (artist_latitude IS NOT NULL AND artist_longitude IS NOT NULL) DESC,
    (artist_location IS NOT NULL) DESC,
    song_id
) = 1
