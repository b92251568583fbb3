import { defineDashboard } from 'tributary';

/**
 * The loyalty programme's dashboard. Live: the speed layer (transactions_cln and the merged
 * customer_points), pushed after each commit of the orders stream. Programme: the batch views
 * (loyalty per day, tiers, segments and offers), pushed when a job rebuilds them. Ties are broken
 * by key so every refresh shows the same order.
 */

/** The latest day of the tier history: the customers' standing now. */
const latestTiers = 'SELECT * FROM customer_tiers WHERE as_of_dt = (SELECT max(as_of_dt) FROM customer_tiers)';

export default defineDashboard({
  title: 'Customer loyalty',
  description: 'Orders from the spool folder, live; spend, points, tiers and offers rebuilt from them by the refresh and daily jobs.',
  tabs: [
    {
      title: 'Live',
      tiles: [
        { id: 'orders', title: 'Orders', kind: 'kpi', sql: 'SELECT sum(orders) AS value FROM customer_points', width: 3 },
        { id: 'spend', title: 'Spend', kind: 'kpi', sql: 'SELECT sum(spend) AS value FROM customer_points', width: 3, format: 'currency' },
        { id: 'points', title: 'Points earned', kind: 'kpi', sql: 'SELECT sum(points) AS value FROM customer_points', width: 3 },
        { id: 'customers', title: 'Customers who ordered', kind: 'kpi', sql: 'SELECT count(*) AS value FROM customer_points', width: 3 },
        {
          id: 'orders_per_minute',
          title: 'Orders per minute by drink (last hour)',
          kind: 'timeseries',
          sql: `SELECT date_trunc('minute', odr_tms) AS minute, odr_menu, count(*) AS orders FROM transactions_cln
                WHERE odr_tms >= (SELECT max(odr_tms) FROM transactions_cln) - INTERVAL 60 MINUTE
                GROUP BY ALL ORDER BY 1, 2`,
          width: 8,
        },
        {
          id: 'menu_mix',
          title: 'Menu mix',
          kind: 'pie',
          // A drink not on the menu shows under its own name, with no revenue behind it.
          sql: 'SELECT odr_menu, count(*) AS orders FROM transactions_cln GROUP BY 1 ORDER BY 2 DESC, 1',
          width: 4,
        },
        {
          id: 'top_customers',
          title: 'Top customers by spend',
          kind: 'table',
          // An id that is not a known customer shows with no name.
          sql: `SELECT p.cust_id, c.cust_nm AS cust_name, c.cust_member_card_no, p.spend, p.points, p.orders, p.last_order_at
                FROM customer_points AS p LEFT JOIN customers_cln AS c ON c.cust_id = p.cust_id
                ORDER BY p.spend DESC, p.cust_id LIMIT 10`,
          width: 6,
        },
        {
          id: 'live_orders',
          title: 'Latest orders',
          kind: 'table',
          sql: 'SELECT odr_tms, cust_id, cust_name, odr_menu, odr_prc, odr_pts FROM transactions_cln ORDER BY odr_tms DESC, cust_id, odr_menu LIMIT 20',
          width: 6,
        },
        {
          id: 'quality',
          title: 'Order lines refused',
          kind: 'table',
          sql: `SELECT reason, count(*) AS lines FROM tributary.dead_letters WHERE origin = 'job:orders' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
          width: 12,
        },
      ],
    },
    {
      title: 'Programme',
      tiles: [
        {
          id: 'spend_per_day',
          title: 'Spend and points per day',
          kind: 'timeseries',
          sql: `SELECT data_dt, 'spend' AS measure, sum(spnd_amt) AS value FROM loyalty GROUP BY 1
                UNION ALL SELECT data_dt, 'points', sum(points) FROM loyalty GROUP BY 1 ORDER BY 1, 2`,
          width: 8,
        },
        { id: 'customers_per_day', title: 'Customers per day', kind: 'timeseries', sql: 'SELECT data_dt, count(*) AS customers FROM loyalty GROUP BY 1 ORDER BY 1', width: 4 },
        {
          id: 'tiers',
          title: 'Customers per tier (latest day)',
          kind: 'bar',
          sql: `SELECT tier, count(*) AS customers FROM (${latestTiers})
                GROUP BY 1 ORDER BY CASE tier WHEN 'Bronze' THEN 1 WHEN 'Silver' THEN 2 WHEN 'Gold' THEN 3 ELSE 4 END`,
          width: 4,
        },
        {
          id: 'segments',
          title: 'Tier by recency segment (latest day)',
          kind: 'heatmap',
          sql: `SELECT tier, segment, count(*) AS customers FROM (${latestTiers}) GROUP BY ALL ORDER BY 1, 2`,
          width: 4,
        },
        {
          id: 'offers',
          title: 'Offers to send (latest day)',
          kind: 'table',
          sql: `SELECT offer_code, offer, count(*) AS customers FROM (${latestTiers}) GROUP BY ALL ORDER BY 3 DESC, 1`,
          width: 4,
        },
        {
          id: 'top_loyal',
          title: 'Highest points (latest day)',
          kind: 'table',
          sql: `SELECT cust_id, cust_name, cust_member_card_no, tier, total_points, total_spend, last_order_dt FROM (${latestTiers})
                ORDER BY total_points DESC, cust_id LIMIT 10`,
          width: 12,
        },
      ],
    },
  ],
});
