-- Skew check: sales lines per store, each store's share, and the running share from the
-- busiest store down. A store is hot when it alone carries at least 5 % of all lines: with the
-- original's 48 tasks a task's even share is about 2 %, so hashing by store_id would give the
-- task that draws such a store more than twice the work of the others. Hot ids need partitions
-- of their own (the original isolated them with a custom partitioner).
WITH per_store AS (
  SELECT store_id, store_name, store_format, region, count(*) AS lines
  FROM {{ ref('sales_enriched') }}
  GROUP BY ALL
)
SELECT
  row_number() OVER (ORDER BY lines DESC, store_id) AS rank,
  store_id,
  store_name,
  store_format,
  region,
  lines,
  lines / sum(lines) OVER () AS share,
  sum(lines) OVER (ORDER BY lines DESC, store_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / sum(lines) OVER () AS cumulative_share,
  lines / sum(lines) OVER () >= 0.05 AS is_hot
FROM per_store
