-- Per day, so dashboards can filter by date and still read a small table. Grouped on the raw
-- brand first and the brand rule applied to the groups: the same result as grouping
-- `operations`, without running the rule on every event.
SELECT
  dt,
  department,
  or_other(brand) AS brand,
  sum(revenue) AS revenue,
  sum(purchases) AS purchases,
  sum(views) AS views,
  sum(carts) AS carts
FROM (
  SELECT
    CAST(event_time AS DATE) AS dt,
    department,
    brand,
    sum(revenue) AS revenue,
    count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
    count(*) FILTER (WHERE event_type = 'view') AS views,
    count(*) FILTER (WHERE event_type = 'cart') AS carts
  FROM {{ ref('events') }}
  GROUP BY ALL
)
GROUP BY ALL
