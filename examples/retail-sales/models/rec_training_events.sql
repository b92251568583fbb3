-- The behaviour each recommender is trained on, labelled by training set:
--   'full'    every event: the daily rebuild that is served;
--   'holdout' events before the hold-out cut-off: what the evaluation scores.
-- All recommender models compute both sets with the same SQL, so the evaluated model is the
-- served model, trained on less data.
-- The column "at" is quoted wherever it is used: AT is a keyword in DuckDB (AT TIME ZONE).
SELECT 'full' AS training_set, customer_id, sku, action, "at"
FROM {{ ref('behaviour') }}
UNION ALL
SELECT 'holdout' AS training_set, b.customer_id, b.sku, b.action, b."at"
FROM {{ ref('behaviour') }} AS b
CROSS JOIN {{ ref('rec_holdout_cutoff') }} AS c
WHERE b."at" < c.cutoff
