-- Brand-client report: each brand's weekly sales by region, as a share of the brand's week and
-- as the brand's share of the region's week (computed over all brands before any row scoping).
WITH region_brand AS (
  SELECT CAST(date_trunc('week', dt) AS DATE) AS week, region, brand, count(DISTINCT store_id) AS stores_selling, sum(quantity) AS units, sum(net_sales) AS net_sales
  FROM {{ ref('sales_enriched') }}
  GROUP BY ALL
)
SELECT
  week,
  brand,
  region,
  stores_selling,
  units,
  net_sales,
  net_sales / sum(net_sales) OVER (PARTITION BY week, brand) AS share_of_brand,
  net_sales / sum(net_sales) OVER (PARTITION BY week, region) AS share_of_region
FROM region_brand
