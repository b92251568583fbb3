SELECT
  date_trunc('minute', event_time) AS minute,
  event_type,
  count(*) AS operations
FROM {{ ref('operations') }}
GROUP BY ALL
