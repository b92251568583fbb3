-- Who gets recommendations, per training set: every loyalty customer, plus any customer id seen
-- in behaviour but missing from the customer table (so no active shopper is left out).
SELECT t.training_set, c.customer_id
FROM (SELECT DISTINCT training_set FROM {{ ref('rec_training_events') }}) AS t
CROSS JOIN (
  SELECT customer_id FROM {{ ref('customers') }}
  UNION
  SELECT DISTINCT customer_id FROM {{ ref('behaviour') }} WHERE customer_id IS NOT NULL
) AS c
