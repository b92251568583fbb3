-- The events as they arrived: every field of the source, nothing derived. Streams write it to the lake.
SELECT * FROM {{ source('clickstream') }}
