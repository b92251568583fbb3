import { defineDashboard } from 'tributary';

/**
 * The brand-client report. Its tiles read the brand_* models, whose rows carry `brand`: a brand
 * client's token sees its own rows only (the server scopes every query), so the same tiles serve
 * every brand; the retailer (admin) sees every brand and can pick one. Shares of all sales, of a
 * category and of a region were computed over all brands inside the models.
 */
const brand = '($brand IS NULL OR brand = $brand)';

export default defineDashboard({
  title: 'Brand report',
  description: "A brand's sales at the retailer: per day and week, top SKUs, regions, share of category.",
  filters: [{ id: 'brand', label: 'Brand', kind: 'select', options: 'SELECT DISTINCT brand FROM brand_daily_sales ORDER BY 1' }],
  tabs: [
    {
      title: 'Sales',
      tiles: [
        { id: 'net_sales', title: 'Net sales', kind: 'kpi', sql: `SELECT sum(net_sales) AS value FROM brand_daily_sales WHERE ${brand}`, width: 4, format: 'currency' },
        { id: 'units', title: 'Units', kind: 'kpi', sql: `SELECT sum(units) AS value FROM brand_daily_sales WHERE ${brand}`, width: 4 },
        { id: 'share', title: 'Share of all sales (latest day)', kind: 'kpi', sql: `SELECT sum(share_of_all_sales) AS value FROM brand_daily_sales WHERE ${brand} AND dt = (SELECT max(dt) FROM brand_daily_sales)`, width: 4, format: 'percent' },
        { id: 'daily', title: 'Net sales per day', kind: 'timeseries', sql: `SELECT dt, brand, net_sales FROM brand_daily_sales WHERE ${brand} ORDER BY dt, brand`, width: 8, format: 'currency' },
        { id: 'weekly', title: 'Weekly, with the change on the previous week', kind: 'table', sql: `SELECT week, brand, units, net_sales, change_on_previous_week FROM brand_weekly_sales WHERE ${brand} ORDER BY week DESC, brand`, width: 4 },
        { id: 'top_skus', title: 'Top SKUs (latest week)', kind: 'table', sql: `SELECT brand, rank, sku, product_name, units, net_sales FROM brand_top_skus WHERE ${brand} AND week = (SELECT max(week) FROM brand_top_skus) ORDER BY brand, rank`, width: 6 },
        { id: 'by_region', title: 'By region (latest week)', kind: 'bar', sql: `SELECT region AS label, sum(net_sales) AS value FROM brand_sales_by_region WHERE ${brand} AND week = (SELECT max(week) FROM brand_sales_by_region) GROUP BY 1 ORDER BY 2 DESC, 1`, width: 6 },
        {
          id: 'category_share',
          title: 'Share of category',
          kind: 'table',
          sql: `SELECT category, sum(brand_net_sales) AS net_sales, sum(brand_net_sales) / sum(category_net_sales) AS share_of_category
                FROM brand_category_share WHERE ${brand} GROUP BY category ORDER BY net_sales DESC, category`,
          width: 12,
        },
      ],
    },
  ],
});
