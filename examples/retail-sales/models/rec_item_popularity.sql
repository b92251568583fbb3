-- Item popularity per training set: the sum of customers' ratings of the item (a purchase 5, a
-- cart add 3, a view 1; see rec_interactions). Ranked with ties broken by sku, so the list is
-- the same on every run. It is both the baseline recommender and the item-item fallback.
SELECT
  training_set,
  sku,
  sum(strength) AS score,
  count(*) AS customers,
  row_number() OVER (PARTITION BY training_set ORDER BY sum(strength) DESC, sku) AS rank
FROM {{ ref('rec_interactions') }}
GROUP BY training_set, sku
