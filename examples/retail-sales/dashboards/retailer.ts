import { defineDashboard } from 'tributary';

/**
 * The retailer's own dashboard: every store, region, category and brand; the skew of the store
 * ids; the web shop's live orders and requests; the recommender against popularity. No brand
 * client may open it (access.clients lists only `brand`).
 */
export default defineDashboard({
  title: 'Retail sales',
  description: 'Daily store drops loaded by the daily_sales job; online orders and web requests live; the recommender rebuilt at midnight.',
  filters: [{ id: 'region', label: 'Region', kind: 'select', options: 'SELECT DISTINCT region FROM stores ORDER BY 1' }],
  tabs: [
    {
      title: 'Sales',
      tiles: [
        { id: 'net_sales', title: 'Net sales', kind: 'kpi', sql: 'SELECT sum(net_sales) AS value FROM daily_sales_by_store WHERE $region IS NULL OR region = $region', width: 3, format: 'currency' },
        { id: 'transactions', title: 'Transactions', kind: 'kpi', sql: 'SELECT sum(sales) AS value FROM daily_sales_by_store WHERE $region IS NULL OR region = $region', width: 3 },
        { id: 'units', title: 'Units', kind: 'kpi', sql: 'SELECT sum(units) AS value FROM daily_sales_by_store WHERE $region IS NULL OR region = $region', width: 3 },
        { id: 'stores_selling', title: 'Stores with sales', kind: 'kpi', sql: 'SELECT count(DISTINCT store_id) AS value FROM daily_sales_by_store WHERE $region IS NULL OR region = $region', width: 3 },
        { id: 'daily_by_region', title: 'Net sales per day by region', kind: 'timeseries', sql: 'SELECT dt, region, sum(net_sales) AS net_sales FROM daily_sales_by_store GROUP BY ALL ORDER BY 1, 2', width: 8, format: 'currency' },
        { id: 'by_region', title: 'Net sales by region', kind: 'pie', sql: 'SELECT region AS label, sum(net_sales) AS value FROM weekly_sales_by_region GROUP BY 1 ORDER BY 2 DESC, 1', width: 4 },
        { id: 'by_category', title: 'Net sales by category', kind: 'bar', sql: 'SELECT category AS label, sum(net_sales) AS value FROM daily_sales_by_category_brand GROUP BY 1 ORDER BY 2 DESC, 1', width: 6, format: 'currency' },
        { id: 'by_brand', title: 'Top brands', kind: 'bar', sql: 'SELECT brand AS label, sum(net_sales) AS value FROM daily_sales_by_category_brand GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 12', width: 6, format: 'currency' },
        {
          id: 'top_stores',
          title: 'Top stores',
          kind: 'table',
          sql: `SELECT store_id, store_name, region, store_format, sum(sales) AS sales, sum(units) AS units, sum(net_sales) AS net_sales
                FROM daily_sales_by_store WHERE $region IS NULL OR region = $region GROUP BY ALL ORDER BY net_sales DESC, store_id LIMIT 15`,
          width: 12,
        },
      ],
    },
    {
      title: 'Skew',
      tiles: [
        { id: 'hot_stores', title: 'Store skew (hot ids get their own partitions)', kind: 'table', sql: 'SELECT rank, store_id, store_name, lines, share, cumulative_share, is_hot FROM store_skew WHERE rank <= 10 ORDER BY rank', width: 8 },
        { id: 'store_lines', title: 'Lines by store rank', kind: 'bar', sql: "SELECT CASE WHEN is_hot THEN 'store ' || store_id ELSE 'other stores' END AS label, sum(lines) AS value FROM store_skew GROUP BY 1 ORDER BY 2 DESC", width: 4 },
      ],
    },
    {
      title: 'Web shop',
      tiles: [
        { id: 'online_orders', title: 'Online orders', kind: 'kpi', sql: 'SELECT count(DISTINCT order_id) AS value FROM online_order_lines', width: 4 },
        { id: 'online_revenue', title: 'Online revenue', kind: 'kpi', sql: 'SELECT sum(quantity * unit_price) AS value FROM online_order_lines', width: 4, format: 'currency' },
        { id: 'requests', title: 'Web requests', kind: 'kpi', sql: 'SELECT count(*) AS value FROM web_requests', width: 4 },
        { id: 'status', title: 'Requests by status', kind: 'bar', sql: 'SELECT CAST(status AS VARCHAR) AS label, count(*) AS value FROM web_requests GROUP BY 1 ORDER BY 1', width: 6 },
        { id: 'channels', title: 'Orders by channel', kind: 'pie', sql: 'SELECT channel AS label, count(DISTINCT order_id) AS value FROM online_order_lines GROUP BY 1 ORDER BY 1', width: 6 },
      ],
    },
    {
      title: 'Recommender',
      tiles: [
        {
          id: 'evaluation',
          title: 'Hold-out evaluation at 10: item-item vs popularity',
          kind: 'table',
          sql: `SELECT metric, max(value) FILTER (WHERE model = 'item_item') AS item_item, max(value) FILTER (WHERE model = 'popularity') AS popularity
                FROM rec_evaluation GROUP BY metric ORDER BY metric`,
          width: 12,
        },
      ],
    },
  ],
});
