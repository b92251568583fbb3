-- Serving layer, batch: one row per customer and day with orders (data_dt, the UTC day of the
-- orders), joining the speed layer's orders with the batch layer's customers. It is a lake table
-- partitioned by data_dt: a run for a day (`tributary run loyalty --date D`, the daily job, a
-- trigger) overwrites that day's partition and no other; a run without a day rebuilds every day.
-- Spend and points are the day's sums of the orders' prices and points (orders for a drink not on
-- the menu add nothing). An order whose id is not a known customer still counts: its row has
-- cust_name and cust_member_card_no NULL, so a day's spend here always equals the day's spend in
-- transactions_cln. The day is read from odr_dt, the lake partition of transactions_cln (the UTC
-- day of odr_tms), so a run for one day reads that day's files only.
SELECT
  d.cust_id,
  c.cust_nm AS cust_name,
  c.cust_member_card_no,
  d.spnd_amt,
  d.points,
  d.data_dt
FROM (
  SELECT
    cust_id,
    odr_dt AS data_dt,
    CAST(coalesce(sum(odr_prc), 0) AS BIGINT) AS spnd_amt,
    CAST(coalesce(sum(odr_pts), 0) AS BIGINT) AS points
  FROM {{ ref('transactions_cln') }}
  GROUP BY cust_id, odr_dt
) AS d
LEFT JOIN {{ ref('customers_cln') }} AS c ON c.cust_id = d.cust_id
