-- Hold-out evaluation at k = 10 of the item-item recommender (with its popularity fallback) and
-- of the popularity baseline, both trained before the cut-off, over the customers in
-- rec_holdout_truth. One row per (model, metric):
--   precision_at_10     hits / 10, averaged over customers
--   recall_at_10        hits / relevant items, averaged
--   hit_rate_at_10      share of customers with at least one hit
--   ndcg_at_10          Σ over hits of 1 / log2(rank + 1), divided by the same sum for a perfect
--                       list (min(relevant, 10) hits at ranks 1…), averaged
--   catalogue_coverage  distinct items recommended to the evaluated customers / products
--   customers_evaluated the number of customers averaged over
WITH truth AS (
  SELECT customer_id, sku FROM {{ ref('rec_holdout_truth') }}
),
relevant AS (
  SELECT customer_id, count(*) AS relevant FROM truth GROUP BY ALL
),
lists AS (
  SELECT 'item_item' AS model, customer_id, sku, rank FROM {{ ref('rec_recommendations') }} WHERE training_set = 'holdout'
  UNION ALL
  SELECT 'popularity' AS model, customer_id, sku, rank FROM {{ ref('rec_popularity_recommendations') }} WHERE training_set = 'holdout'
),
evaluated_lists AS (
  SELECT l.* FROM lists AS l WHERE l.customer_id IN (SELECT customer_id FROM relevant)
),
ideal AS (
  SELECT r AS relevant_in_top, sum(1 / log2(r + 1)) OVER (ORDER BY r) AS idcg FROM range(1, 11) AS t(r)
),
per_customer AS (
  SELECT
    m.model,
    r.customer_id,
    r.relevant,
    count(t.sku) AS hits,
    coalesce(sum(1 / log2(l.rank + 1)) FILTER (WHERE t.sku IS NOT NULL), 0) AS dcg
  FROM (VALUES ('item_item'), ('popularity')) AS m(model)
  CROSS JOIN relevant AS r
  LEFT JOIN evaluated_lists AS l ON l.model = m.model AND l.customer_id = r.customer_id
  LEFT JOIN truth AS t ON t.customer_id = l.customer_id AND t.sku = l.sku
  GROUP BY ALL
),
metrics AS (
  SELECT
    p.model,
    avg(p.hits / 10) AS precision_at_10,
    avg(p.hits / p.relevant) AS recall_at_10,
    avg(CASE WHEN p.hits > 0 THEN 1 ELSE 0 END) AS hit_rate_at_10,
    avg(p.dcg / i.idcg) AS ndcg_at_10,
    CAST(count(*) AS DOUBLE) AS customers_evaluated
  FROM per_customer AS p
  JOIN ideal AS i ON i.relevant_in_top = least(p.relevant, 10)
  GROUP BY p.model
),
coverage AS (
  SELECT model, count(DISTINCT sku) / (SELECT count(*) FROM {{ ref('products') }}) AS catalogue_coverage
  FROM evaluated_lists
  GROUP BY model
)
SELECT model, metric, value
FROM (
  SELECT m.model, m.precision_at_10, m.recall_at_10, m.hit_rate_at_10, m.ndcg_at_10, c.catalogue_coverage, m.customers_evaluated
  FROM metrics AS m
  JOIN coverage AS c ON c.model = m.model
)
UNPIVOT (value FOR metric IN (precision_at_10, recall_at_10, hit_rate_at_10, ndcg_at_10, catalogue_coverage, customers_evaluated))
ORDER BY model, metric
