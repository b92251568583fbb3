-- One implicit rating per training set, customer and item: the weight of the strongest action.
-- Weights: view 1, cart 3, purchase 5. A purchase is the outcome we predict; a cart add is
-- strong intent (about half of the sessions with a cart check out) but weaker than money spent;
-- a view is cheap and noisy (about 4 views per cart add). The maximum, not the sum, so that
-- reloading a page ten times does not outweigh buying the item.
-- Heavy users keep their 100 strongest (then most recent) items: co-occurrence pairs grow with
-- the square of a customer's items, and a few scrapers-with-accounts would dominate otherwise.
SELECT
  training_set,
  customer_id,
  sku,
  max(CASE action WHEN 'purchase' THEN 5 WHEN 'cart' THEN 3 ELSE 1 END) AS strength,
  bool_or(action = 'purchase') AS purchased,
  max("at") AS last_at
FROM {{ ref('rec_training_events') }}
WHERE action IN ('view', 'cart', 'purchase') AND customer_id IS NOT NULL AND sku IS NOT NULL
GROUP BY training_set, customer_id, sku
QUALIFY row_number() OVER (PARTITION BY training_set, customer_id ORDER BY strength DESC, last_at DESC, sku) <= 100
