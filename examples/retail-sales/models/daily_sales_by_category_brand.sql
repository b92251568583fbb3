-- Daily sales by category and brand: one table serves both breakdowns (sum over brands for a
-- category, over categories for a brand) at a few thousand rows per day.
SELECT
  dt,
  category,
  brand,
  count(*) AS lines,
  sum(quantity) AS units,
  sum(gross_sales) AS gross_sales,
  sum(discount) AS discounts,
  sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY ALL
