-- Weekly sales per region (weeks start on Monday). days_with_sales tells a partial week (the
-- first or last of the data) from a full one; stores_with_sales counts stores with any line.
SELECT
  CAST(date_trunc('week', dt) AS DATE) AS week,
  region,
  count(DISTINCT dt) AS days_with_sales,
  count(DISTINCT store_id) AS stores_with_sales,
  count(DISTINCT sale_id) AS sales,
  count(*) AS lines,
  sum(quantity) AS units,
  sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY ALL
