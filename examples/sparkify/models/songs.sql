-- Dimension: one row per song_id of the catalogue. `year` is kept as given: 0 means the year is
-- unknown (not year 0); it stays 0 rather than NULL because the table is partitioned by year.
-- Should a song_id come in two files, the row with the smallest (title, artist_id, year,
-- duration) is kept, so the key stays unique and the choice does not depend on file order.
SELECT
  song_id,
  title,
  artist_id,
  year,
  duration
FROM {{ ref('staging_songs') }}
QUALIFY row_number() OVER (
  PARTITION BY song_id
  ORDER BY title, artist_id, year, duration
) = 1
