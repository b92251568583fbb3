-- The original system's processed table: no ids, missing text becomes 'other'. Live events carry
-- an `id` (the producer stamps each with a UUID); it is kept when present so every event can be
-- traced from the raw lake table to this one.
SELECT
  COLUMNS(c -> c IN ('id', 'event_time')),
  event_type,
  category_code,
  or_other(brand) AS brand,
  price,
  department,
  product,
  revenue
FROM {{ ref('events') }}
