-- The popularity baseline: each customer's 10 most popular items that they have not purchased.
-- A customer who purchased n items can lose at most n of the top 10 + n, so only those are
-- joined: exact, and bounded by the customer's purchases rather than the catalogue.
WITH purchased AS (
  SELECT training_set, customer_id, sku FROM {{ ref('rec_interactions') }} WHERE purchased
),
purchase_counts AS (
  SELECT training_set, customer_id, count(*) AS purchases FROM purchased GROUP BY ALL
),
candidates AS (
  -- The popularity rank is renamed: in QUALIFY, a source column named rank would shadow the
  -- output alias rank.
  SELECT c.training_set, c.customer_id, p.sku, p.score, p.rank AS popularity_rank
  FROM {{ ref('rec_customers') }} AS c
  LEFT JOIN purchase_counts AS n ON n.training_set = c.training_set AND n.customer_id = c.customer_id
  JOIN {{ ref('rec_item_popularity') }} AS p ON p.training_set = c.training_set AND p.rank <= 10 + coalesce(n.purchases, 0)
  WHERE NOT EXISTS (
    SELECT 1 FROM purchased AS x WHERE x.training_set = c.training_set AND x.customer_id = c.customer_id AND x.sku = p.sku
  )
)
SELECT
  training_set,
  customer_id,
  row_number() OVER (PARTITION BY training_set, customer_id ORDER BY popularity_rank) AS rank,
  sku,
  score
FROM candidates
QUALIFY rank <= 10
