import { defineDashboard } from 'tributary';

/**
 * A dashboard is a file exporting defineDashboard({...}): a title, filters, and tabs of tiles.
 * Each tile is one SQL query over the project's tables; a filter with id `from` is `$from` in a
 * tile's SQL (NULL while unset). What a tile's query returns depends on its kind:
 *   kpi          one row: its `value` column (or else its first) is the number shown
 *   timeseries   a time, then a series name (optional), then a value
 *   bar, pie, funnel   a label, then a value
 *   treemap      a parent, a child, then a value
 *   heatmap      an x, a y, then a value
 *   table        any columns
 * format ('number' | 'currency' | 'percent') formats numbers; width is out of 12 columns (default 4).
 * window (minutes, timeseries) makes a live chart: its time axis is the last N minutes up to now,
 * following the clock; its query keeps to them: WHERE t >= timezone('UTC', now()) - INTERVAL N MINUTE.
 */
export default defineDashboard({
  title: 'Sales',
  description: 'Orders and revenue per day and customer',
  filters: [
    { id: 'from', label: 'From', kind: 'date' },
    { id: 'customer', label: 'Customer', kind: 'select', options: 'SELECT DISTINCT customer FROM orders ORDER BY 1' },
  ],
  tabs: [
    {
      title: 'Overview',
      tiles: [
        { id: 'revenue', title: 'Revenue', kind: 'kpi', format: 'currency', sql: 'SELECT sum(revenue) AS value FROM daily_revenue WHERE $from IS NULL OR day >= CAST($from AS DATE)' },
        { id: 'orders', title: 'Orders', kind: 'kpi', sql: 'SELECT sum(orders) AS value FROM daily_revenue WHERE $from IS NULL OR day >= CAST($from AS DATE)' },
        { id: 'customers', title: 'Customers', kind: 'kpi', sql: 'SELECT count(DISTINCT customer) AS value FROM orders' },
        { id: 'per_day', title: 'Revenue per day', kind: 'timeseries', width: 8, sql: 'SELECT day, revenue FROM daily_revenue ORDER BY day' },
        {
          id: 'by_customer',
          title: 'Revenue by customer',
          kind: 'bar',
          sql: 'SELECT customer, sum(amount) AS revenue FROM orders WHERE $customer IS NULL OR customer = $customer GROUP BY 1 ORDER BY 2 DESC',
        },
        { id: 'customer_day', title: 'Orders by day and customer', kind: 'heatmap', width: 6, sql: 'SELECT dt AS day, customer, count(*) AS orders FROM orders GROUP BY ALL' },
        { id: 'latest', title: 'Latest orders', kind: 'table', width: 6, sql: 'SELECT order_id, ordered_at, customer, amount FROM orders ORDER BY ordered_at DESC LIMIT 20' },
      ],
    },
  ],
});
