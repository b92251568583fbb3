-- Brand-client report, weekly (weeks start on Monday), with the change on the previous week.
-- Every brand gets a row for every week in the data (0 when it sold nothing), so the previous
-- week is always the calendar's previous week; it is NULL only in the first week of the data.
WITH weekly AS (
  SELECT CAST(date_trunc('week', dt) AS DATE) AS week, brand, count(DISTINCT dt) AS days_with_sales, sum(quantity) AS units, sum(net_sales) AS net_sales
  FROM {{ ref('sales_enriched') }}
  GROUP BY ALL
),
calendar AS (
  SELECT w.week, b.brand FROM (SELECT DISTINCT week FROM weekly) AS w CROSS JOIN (SELECT DISTINCT brand FROM weekly) AS b
)
SELECT
  c.week,
  c.brand,
  coalesce(w.days_with_sales, 0) AS days_with_sales,
  coalesce(w.units, 0) AS units,
  coalesce(w.net_sales, 0) AS net_sales,
  lag(coalesce(w.net_sales, 0)) OVER (PARTITION BY c.brand ORDER BY c.week) AS previous_week_net_sales,
  coalesce(w.net_sales, 0) / nullif(lag(coalesce(w.net_sales, 0)) OVER (PARTITION BY c.brand ORDER BY c.week), 0) - 1 AS change_on_previous_week
FROM calendar AS c
LEFT JOIN weekly AS w ON w.week = c.week AND w.brand = c.brand
