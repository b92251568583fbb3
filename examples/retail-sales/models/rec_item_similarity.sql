-- Item-item similarity per training set: cosine over the customer × item rating matrix, shrunk
-- towards 0 when few customers share the pair:
--   similarity(i, j) = Σ_u r_ui · r_uj / (‖r_i‖ · ‖r_j‖) × n_ij / (n_ij + 3)
-- where r_ui is the customer's rating of the item (rec_interactions) and n_ij the number of
-- customers who rated both. Plain cosine gives a pair seen by a single customer the same weight
-- as one seen by hundreds, which makes rare items' neighbours noise; the shrinkage ("significance
-- weighting") keeps 1/4 of the cosine for one shared customer, 1/2 for three, 4/5 for twelve.
-- Only pairs that share a customer are scored; each item keeps its 20 most similar neighbours
-- (ties by sku).
WITH ratings AS (
  SELECT training_set, customer_id, sku, strength FROM {{ ref('rec_interactions') }}
),
norms AS (
  SELECT training_set, sku, sqrt(sum(strength * strength)) AS norm FROM ratings GROUP BY ALL
),
pairs AS (
  SELECT a.training_set, a.sku, b.sku AS neighbour_sku, sum(a.strength * b.strength) AS dot, count(*) AS shared_customers
  FROM ratings AS a
  JOIN ratings AS b ON b.training_set = a.training_set AND b.customer_id = a.customer_id AND b.sku <> a.sku
  GROUP BY ALL
),
scored AS (
  SELECT
    p.training_set,
    p.sku,
    p.neighbour_sku,
    p.dot / (ni.norm * nj.norm) * p.shared_customers / (p.shared_customers + 3) AS similarity,
    p.shared_customers
  FROM pairs AS p
  JOIN norms AS ni ON ni.training_set = p.training_set AND ni.sku = p.sku
  JOIN norms AS nj ON nj.training_set = p.training_set AND nj.sku = p.neighbour_sku
)
SELECT
  training_set,
  sku,
  row_number() OVER (PARTITION BY training_set, sku ORDER BY similarity DESC, neighbour_sku) AS rank,
  neighbour_sku,
  similarity,
  shared_customers
FROM scored
QUALIFY rank <= 20
