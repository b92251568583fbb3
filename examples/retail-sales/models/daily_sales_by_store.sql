-- Daily sales per store. `sales` counts till transactions (distinct sale_id), `lines` their
-- lines; returned_units are the units of return lines (negative quantities), as a positive number.
SELECT
  dt,
  store_id,
  store_name,
  region,
  store_format,
  count(DISTINCT sale_id) AS sales,
  count(*) AS lines,
  sum(quantity) AS units,
  coalesce(-sum(quantity) FILTER (WHERE quantity < 0), 0) AS returned_units,
  sum(gross_sales) AS gross_sales,
  sum(discount) AS discounts,
  sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY dt, store_id, store_name, region, store_format
