SELECT
  product,
  sum(revenue) AS revenue,
  count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
  count(*) FILTER (WHERE event_type = 'view') AS views,
  count(*) FILTER (WHERE event_type = 'cart') AS carts
FROM {{ ref('operations') }}
GROUP BY ALL
