-- Brand-client report: a brand's daily net sales in each category it sells in, next to the
-- category's total over all brands. The total is a column, computed before row-level scoping,
-- so a brand client sees its share of the category without seeing other brands' rows.
SELECT
  dt,
  brand,
  category,
  net_sales AS brand_net_sales,
  sum(net_sales) OVER (PARTITION BY dt, category) AS category_net_sales,
  net_sales / sum(net_sales) OVER (PARTITION BY dt, category) AS share_of_category
FROM {{ ref('daily_sales_by_category_brand') }}
