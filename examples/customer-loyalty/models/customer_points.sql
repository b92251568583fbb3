-- Serving layer, live: a customer's current points, the fast key lookup the original kept in HBase.
-- The stream runs this on each micro-batch of orders and merges the result into the live table by
-- cust_id (tributary.config.ts): points, spend and orders add up; last_order_at keeps the later
-- time. Orders for a drink not on the menu count as orders but add no spend or points.
SELECT
  cust_id,
  CAST(coalesce(sum(odr_pts), 0) AS BIGINT) AS points,
  CAST(coalesce(sum(odr_prc), 0) AS BIGINT) AS spend,
  count(*) AS orders,
  max(odr_tms) AS last_order_at
FROM {{ ref('transactions') }}
GROUP BY cust_id
