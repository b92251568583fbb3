-- Brand-client report, daily: one row per brand and day, for every brand. A brand client sees
-- its own rows through row-level scoping on `brand`; share_of_all_sales is computed before any
-- scoping, so it stays the brand's share of the whole retailer's net sales.
SELECT
  dt,
  brand,
  manufacturer,
  count(DISTINCT store_id) AS stores_selling,
  count(*) AS lines,
  sum(quantity) AS units,
  sum(net_sales) AS net_sales,
  sum(net_sales) / sum(sum(net_sales)) OVER (PARTITION BY dt) AS share_of_all_sales
FROM {{ ref('sales_enriched') }}
GROUP BY dt, brand, manufacturer
