-- The totals, added up from the daily department × brand table (every operation is in exactly one
-- of its rows), rather than another scan of all events.
SELECT
  CAST(sum(purchases + views + carts) AS BIGINT) AS operations,
  sum(revenue) AS revenue,
  CAST(sum(purchases) AS BIGINT) AS purchases,
  CAST(sum(views) AS BIGINT) AS views,
  CAST(sum(carts) AS BIGINT) AS carts
FROM {{ ref('by_department_brand') }}
