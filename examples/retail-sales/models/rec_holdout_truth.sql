-- The hold-out test set: items each customer purchased from the cut-off on, except items they
-- had purchased before it (recommenders exclude those, so they could never be hit). Customers
-- with at least one such item are the customers evaluated.
WITH cutoff AS (
  SELECT cutoff FROM {{ ref('rec_holdout_cutoff') }}
)
SELECT DISTINCT b.customer_id, b.sku
FROM {{ ref('behaviour') }} AS b
CROSS JOIN cutoff AS c
WHERE b.action = 'purchase' AND b."at" >= c.cutoff AND b.customer_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM {{ ref('behaviour') }} AS e
    WHERE e.customer_id = b.customer_id AND e.sku = b.sku AND e.action = 'purchase' AND e."at" < c.cutoff
  )
