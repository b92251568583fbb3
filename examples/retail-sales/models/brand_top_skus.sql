-- Brand-client report: each brand's 20 best-selling SKUs per week by net sales (ties by sku,
-- so the list is stable), with their share of the brand's week.
WITH sku_weeks AS (
  SELECT CAST(date_trunc('week', dt) AS DATE) AS week, brand, sku, product_name, theme, category, sum(quantity) AS units, sum(net_sales) AS net_sales
  FROM {{ ref('sales_enriched') }}
  GROUP BY ALL
)
SELECT
  week,
  brand,
  row_number() OVER (PARTITION BY week, brand ORDER BY net_sales DESC, sku) AS rank,
  sku,
  product_name,
  theme,
  category,
  units,
  net_sales,
  net_sales / sum(net_sales) OVER (PARTITION BY week, brand) AS share_of_brand
FROM sku_weeks
QUALIFY rank <= 20
