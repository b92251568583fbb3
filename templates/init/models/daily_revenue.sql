SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue
FROM {{ ref('orders') }}
GROUP BY ALL
ORDER BY day
