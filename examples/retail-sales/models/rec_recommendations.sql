-- Top 10 recommendations per customer and training set (training_set = 'full' is what is
-- served; 'holdout' is what the evaluation scores).
-- Item-item: score(u, j) = Σ_i r_ui · similarity(i, j) over the items i the customer rated and
-- their 20 nearest neighbours j; items the customer already purchased are never recommended.
-- Popularity fallback: a customer with fewer than 10 scored items (no history, or a history
-- without neighbours) is topped up from their popularity list (rec_popularity_recommendations),
-- skipping items already listed. That list has 10 unpurchased items, at most n of which repeat
-- the n item-item picks, so every customer gets 10. `source` tells which method chose an item;
-- `score` is that method's score.
WITH purchased AS (
  SELECT training_set, customer_id, sku FROM {{ ref('rec_interactions') }} WHERE purchased
),
scored AS (
  SELECT r.training_set, r.customer_id, s.neighbour_sku AS sku, sum(r.strength * s.similarity) AS score
  FROM {{ ref('rec_interactions') }} AS r
  JOIN {{ ref('rec_item_similarity') }} AS s ON s.training_set = r.training_set AND s.sku = r.sku
  WHERE NOT EXISTS (
    SELECT 1 FROM purchased AS x WHERE x.training_set = r.training_set AND x.customer_id = r.customer_id AND x.sku = s.neighbour_sku
  )
  GROUP BY ALL
),
item_item AS (
  SELECT training_set, customer_id, sku, score, 'item_item' AS source, row_number() OVER (PARTITION BY training_set, customer_id ORDER BY score DESC, sku) AS pick
  FROM scored
  QUALIFY pick <= 10
),
fallback AS (
  SELECT p.training_set, p.customer_id, p.sku, p.score, 'popularity' AS source, 10 + p.rank AS pick
  FROM {{ ref('rec_popularity_recommendations') }} AS p
  WHERE NOT EXISTS (
    SELECT 1 FROM item_item AS i WHERE i.training_set = p.training_set AND i.customer_id = p.customer_id AND i.sku = p.sku
  )
)
SELECT
  training_set,
  customer_id,
  row_number() OVER (PARTITION BY training_set, customer_id ORDER BY pick) AS rank,
  sku,
  score,
  source
FROM (SELECT * FROM item_item UNION ALL SELECT * FROM fallback)
QUALIFY rank <= 10
