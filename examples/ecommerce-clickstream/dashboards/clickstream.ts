import { defineDashboard } from 'tributary';

/**
 * The original Superset dashboard (KPIs; operations per minute by event type; revenue, purchases,
 * views and additions to cart by department and brand, and by product), live, plus a conversion
 * funnel, top brands, data quality, and the batch view of November 2019.
 */
const byDeptBrand = (table: string, measure: string) => `
  SELECT department, brand, sum(${measure}) AS value FROM ${table}
  WHERE ($department IS NULL OR department = $department) AND ($brand IS NULL OR brand = $brand)
    AND ($from IS NULL OR dt >= CAST($from AS DATE)) AND ($to IS NULL OR dt <= CAST($to AS DATE))
  GROUP BY ALL HAVING sum(${measure}) > 0 ORDER BY value DESC LIMIT 150`;
const byProduct = (table: string, measure: string) => `SELECT product, ${measure} AS value FROM ${table} ORDER BY value DESC LIMIT 12`;
/** The original's five KPI numbers, from a live or a batch totals table. */
const kpis = (table: string, prefix: string) =>
  [
    { id: `${prefix}operations`, title: 'Total operations', sql: `SELECT operations AS value FROM ${table}`, width: 2 },
    { id: `${prefix}revenue`, title: 'Revenue', sql: `SELECT revenue AS value FROM ${table}`, width: 3, format: 'currency' as const },
    { id: `${prefix}purchases`, title: 'Purchases', sql: `SELECT purchases AS value FROM ${table}`, width: 2 },
    { id: `${prefix}views`, title: 'Views', sql: `SELECT views AS value FROM ${table}`, width: 3 },
    { id: `${prefix}carts`, title: 'Additions to cart', sql: `SELECT carts AS value FROM ${table}`, width: 2 },
  ].map((tile) => ({ ...tile, kind: 'kpi' as const }));

export default defineDashboard({
  title: 'E-commerce clickstream',
  description: 'Live numbers update within a second of each stream commit; the November 2019 tab is the batch load of the file.',
  filters: [
    { id: 'from', label: 'From', kind: 'date' },
    { id: 'to', label: 'To', kind: 'date' },
    { id: 'department', label: 'Department', kind: 'select', options: 'SELECT DISTINCT department FROM (SELECT department FROM live_by_department_brand UNION SELECT department FROM by_department_brand) ORDER BY 1' },
    { id: 'brand', label: 'Brand', kind: 'select', options: 'SELECT brand FROM (SELECT brand, sum(revenue) AS r FROM (SELECT brand, revenue FROM live_by_department_brand UNION ALL SELECT brand, revenue FROM by_department_brand) GROUP BY 1) ORDER BY r DESC LIMIT 100' },
  ],
  tabs: [
    {
      title: 'Live',
      tiles: [
        ...kpis('live_kpis', 'live_'),
        {
          id: 'live_per_minute',
          title: 'Operations per minute by event type',
          kind: 'timeseries',
          sql: "SELECT minute, event_type, operations FROM live_operations_per_minute WHERE minute >= timezone('UTC', now()) - INTERVAL 60 MINUTE ORDER BY 1",
          width: 8,
          window: 60,
        },
        {
          id: 'live_funnel',
          title: 'Conversion funnel',
          kind: 'funnel',
          sql: `SELECT * FROM (VALUES ('view', (SELECT views FROM live_kpis)), ('cart', (SELECT carts FROM live_kpis)), ('purchase', (SELECT purchases FROM live_kpis))) AS t(step, value)`,
          width: 4,
        },
        { id: 'live_revenue_map', title: 'Revenue by department and brand', kind: 'treemap', sql: byDeptBrand('live_by_department_brand', 'revenue'), width: 6 },
        { id: 'live_purchases_map', title: 'Purchases by department and brand', kind: 'treemap', sql: byDeptBrand('live_by_department_brand', 'purchases'), width: 6 },
        { id: 'live_views_map', title: 'Views by department and brand', kind: 'treemap', sql: byDeptBrand('live_by_department_brand', 'views'), width: 6 },
        { id: 'live_carts_map', title: 'Additions to cart by department and brand', kind: 'treemap', sql: byDeptBrand('live_by_department_brand', 'carts'), width: 6 },
        { id: 'live_product_purchases', title: 'Purchases by product', kind: 'bar', sql: byProduct('live_by_product', 'purchases'), width: 4 },
        { id: 'live_product_views', title: 'Views by product', kind: 'bar', sql: byProduct('live_by_product', 'views'), width: 4 },
        { id: 'live_product_carts', title: 'Additions to cart by product', kind: 'bar', sql: byProduct('live_by_product', 'carts'), width: 4 },
        {
          id: 'live_top_brands',
          title: 'Top brands',
          kind: 'table',
          sql: `SELECT brand, sum(revenue) AS revenue, sum(purchases) AS purchases, sum(views) AS views, sum(carts) AS carts FROM live_by_department_brand
                WHERE brand <> 'other' GROUP BY 1 ORDER BY revenue DESC, views DESC LIMIT 10`,
          width: 6,
        },
        {
          id: 'quality',
          title: 'Data quality',
          kind: 'table',
          sql: `SELECT 'quarantined rows (batch loads)' AS measure, (SELECT count(*) FROM tributary.quarantine) AS value
                UNION ALL SELECT 'dead letters (stream)', (SELECT count(*) FROM tributary.dead_letters)
                UNION ALL SELECT 'late events (stream)', (SELECT count(*) FROM clickstream_live_late)`,
          width: 6,
        },
      ],
    },
    {
      title: 'November 2019 (batch)',
      tiles: [
        ...kpis('kpis', ''),
        {
          id: 'per_hour',
          title: 'Operations per hour by event type',
          kind: 'timeseries',
          sql: `SELECT date_trunc('hour', minute) AS hour, event_type, sum(operations) AS operations FROM operations_per_minute
                WHERE ($from IS NULL OR minute >= CAST($from AS DATE)) AND ($to IS NULL OR minute < CAST($to AS DATE) + 1) GROUP BY ALL ORDER BY 1`,
          width: 12,
        },
        { id: 'revenue_map', title: 'Revenue by department and brand', kind: 'treemap', sql: byDeptBrand('by_department_brand', 'revenue'), width: 6 },
        { id: 'purchases_map', title: 'Purchases by department and brand', kind: 'treemap', sql: byDeptBrand('by_department_brand', 'purchases'), width: 6 },
        { id: 'product_purchases', title: 'Purchases by product', kind: 'bar', sql: byProduct('by_product', 'purchases'), width: 4 },
        { id: 'product_views', title: 'Views by product', kind: 'bar', sql: byProduct('by_product', 'views'), width: 4 },
        { id: 'product_carts', title: 'Additions to cart by product', kind: 'bar', sql: byProduct('by_product', 'carts'), width: 4 },
      ],
    },
  ],
});
