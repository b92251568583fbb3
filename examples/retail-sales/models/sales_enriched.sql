-- Sales lines with their store's and product's attributes: the base of every sales model.
-- Amounts: gross_sales = quantity × unit_price; net_sales = gross_sales − discount. Returns have
-- a negative quantity, so they subtract from units and sales.
-- stores and products are small reference tables: the engine broadcasts them in the join (the
-- original system set a 100 MB broadcast threshold for this). Left joins keep every line: a
-- store or SKU missing from the reference data shows as 'unknown' instead of losing sales, so
-- totals here always equal the totals of sales_lines.
SELECT
  l.dt,
  l.sold_at,
  l.sale_id,
  l.store_id,
  coalesce(s.name, 'unknown') AS store_name,
  coalesce(s.region, 'unknown') AS region,
  coalesce(s.format, 'unknown') AS store_format,
  l.sku,
  coalesce(p.name, 'unknown') AS product_name,
  coalesce(p.category, 'unknown') AS category,
  coalesce(p.brand, 'unknown') AS brand,
  coalesce(p.manufacturer, 'unknown') AS manufacturer,
  coalesce(p.theme, 'unknown') AS theme,
  coalesce(p.age_group, 'unknown') AS age_group,
  l.quantity,
  l.unit_price,
  l.discount,
  l.customer_id,
  l.payment_type,
  CAST(l.quantity * l.unit_price AS DECIMAL(14, 2)) AS gross_sales,
  CAST(l.quantity * l.unit_price - l.discount AS DECIMAL(14, 2)) AS net_sales
FROM {{ ref('sales_lines') }} AS l
LEFT JOIN {{ ref('stores') }} AS s ON s.store_id = l.store_id
LEFT JOIN {{ ref('products') }} AS p ON p.sku = l.sku
