-- Dashboard queries of the retail-sales example, over the models' tables (by model name).
-- Each query starts with a `-- name:` line. "Today" is the latest day in the data (a daily
-- load lands the previous day's drops), "this week" the Monday-based week containing it.
--
-- Retailer queries read every row. Brand-client queries read only the brand_* models, whose
-- rows carry a `brand` column: the platform's row-level scoping gives a brand client its own
-- rows, and each query also filters on brand = 'LEGO' so it shows the brand's numbers even
-- unscoped. Shares of category and region were computed over all brands inside the models, so
-- a brand client sees its share without seeing other brands' rows. The last query is the
-- parameterised form (`$brand`) of the brand report card.

-- name: retailer_sales_today
-- KPI tiles: today's net sales, transactions, units and stores with sales, next to the same
-- weekday a week earlier (NULL when the data does not reach back that far).
WITH days AS (
  SELECT dt, sum(net_sales) AS net_sales, sum(sales) AS sales, sum(units) AS units, count(*) AS stores_with_sales
  FROM daily_sales_by_store
  GROUP BY dt
)
SELECT
  t.dt,
  t.net_sales,
  t.sales,
  t.units,
  t.stores_with_sales,
  w.net_sales AS net_sales_same_day_last_week
FROM days AS t
LEFT JOIN days AS w ON w.dt = t.dt - INTERVAL 7 DAY
WHERE t.dt = (SELECT max(dt) FROM days);

-- name: retailer_sales_this_week
-- Week to date, day by day (a bar per day), with the running total.
SELECT
  dt,
  sum(net_sales) AS net_sales,
  sum(units) AS units,
  sum(sum(net_sales)) OVER (ORDER BY dt) AS week_to_date_net_sales
FROM daily_sales_by_store
WHERE dt >= date_trunc('week', (SELECT max(dt) FROM daily_sales_by_store))
GROUP BY dt
ORDER BY dt;

-- name: retailer_sales_by_region_this_week
SELECT region, stores_with_sales, sales, units, net_sales, net_sales / sum(net_sales) OVER () AS share
FROM weekly_sales_by_region
WHERE week = (SELECT max(week) FROM weekly_sales_by_region)
ORDER BY net_sales DESC;

-- name: retailer_sales_by_category_this_week
SELECT category, sum(units) AS units, sum(net_sales) AS net_sales, sum(net_sales) / sum(sum(net_sales)) OVER () AS share
FROM daily_sales_by_category_brand
WHERE dt >= date_trunc('week', (SELECT max(dt) FROM daily_sales_by_category_brand))
GROUP BY category
ORDER BY net_sales DESC;

-- name: retailer_top_stores_this_week
SELECT store_id, store_name, region, store_format, sum(sales) AS sales, sum(net_sales) AS net_sales
FROM daily_sales_by_store
WHERE dt >= date_trunc('week', (SELECT max(dt) FROM daily_sales_by_store))
GROUP BY ALL
ORDER BY net_sales DESC, store_id
LIMIT 10;

-- name: retailer_top_brands_this_week
SELECT brand, sum(units) AS units, sum(net_sales) AS net_sales, sum(net_sales) / sum(sum(net_sales)) OVER () AS share
FROM daily_sales_by_category_brand
WHERE dt >= date_trunc('week', (SELECT max(dt) FROM daily_sales_by_category_brand))
GROUP BY brand
ORDER BY net_sales DESC, brand
LIMIT 10;

-- name: retailer_daily_trend
SELECT dt, sum(net_sales) AS net_sales, sum(sales) AS sales
FROM daily_sales_by_store
GROUP BY dt
ORDER BY dt;

-- name: retailer_store_skew
-- The busiest stores' share of all sales lines and the hot ids that need their own partitions.
SELECT rank, store_id, store_name, lines, share, cumulative_share, is_hot
FROM store_skew
WHERE rank <= 10
ORDER BY rank;

-- name: retailer_recommender_quality
-- Hold-out metrics of the item-item recommender against the popularity baseline.
SELECT metric, max(value) FILTER (WHERE model = 'item_item') AS item_item, max(value) FILTER (WHERE model = 'popularity') AS popularity
FROM rec_evaluation
GROUP BY metric
ORDER BY metric;

-- name: brand_sales_today
SELECT dt, units, net_sales, stores_selling, share_of_all_sales
FROM brand_daily_sales
WHERE brand = 'LEGO' AND dt = (SELECT max(dt) FROM brand_daily_sales WHERE brand = 'LEGO');

-- name: brand_sales_this_week
SELECT week, days_with_sales, units, net_sales, previous_week_net_sales, change_on_previous_week
FROM brand_weekly_sales
WHERE brand = 'LEGO' AND week = (SELECT max(week) FROM brand_weekly_sales WHERE brand = 'LEGO');

-- name: brand_daily_trend
SELECT dt, units, net_sales, share_of_all_sales
FROM brand_daily_sales
WHERE brand = 'LEGO'
ORDER BY dt;

-- name: brand_sales_by_region_this_week
SELECT region, stores_selling, units, net_sales, share_of_brand, share_of_region
FROM brand_sales_by_region
WHERE brand = 'LEGO' AND week = (SELECT max(week) FROM brand_sales_by_region WHERE brand = 'LEGO')
ORDER BY net_sales DESC;

-- name: brand_category_share_this_week
-- The brand's share of each category it sells in, week to date.
SELECT category, sum(brand_net_sales) AS brand_net_sales, sum(category_net_sales) AS category_net_sales, sum(brand_net_sales) / sum(category_net_sales) AS share_of_category
FROM brand_category_share
WHERE brand = 'LEGO' AND dt >= date_trunc('week', (SELECT max(dt) FROM brand_category_share WHERE brand = 'LEGO'))
GROUP BY category
ORDER BY brand_net_sales DESC;

-- name: brand_top_skus_this_week
SELECT rank, sku, product_name, theme, units, net_sales, share_of_brand
FROM brand_top_skus
WHERE brand = 'LEGO' AND week = (SELECT max(week) FROM brand_top_skus WHERE brand = 'LEGO')
ORDER BY rank;

-- name: brand_report_card
-- The parameterised form for any brand client: $brand is bound by the dashboard (or by the
-- client's scope). One row: latest day, week to date, the change on last week, best region,
-- best SKU.
WITH latest AS (
  SELECT max(dt) AS dt FROM brand_daily_sales WHERE brand = $brand
)
SELECT
  $brand AS brand,
  (SELECT dt FROM latest) AS dt,
  (SELECT net_sales FROM brand_daily_sales WHERE brand = $brand AND dt = (SELECT dt FROM latest)) AS net_sales_today,
  (SELECT net_sales FROM brand_weekly_sales WHERE brand = $brand AND week = date_trunc('week', (SELECT dt FROM latest))) AS net_sales_this_week,
  (SELECT change_on_previous_week FROM brand_weekly_sales WHERE brand = $brand AND week = date_trunc('week', (SELECT dt FROM latest))) AS change_on_previous_week,
  (SELECT region FROM brand_sales_by_region WHERE brand = $brand AND week = date_trunc('week', (SELECT dt FROM latest)) ORDER BY net_sales DESC, region LIMIT 1) AS best_region,
  (SELECT product_name FROM brand_top_skus WHERE brand = $brand AND week = date_trunc('week', (SELECT dt FROM latest)) AND rank = 1) AS best_sku;
