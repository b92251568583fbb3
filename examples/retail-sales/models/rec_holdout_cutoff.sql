-- The time-based hold-out split of the recommender evaluation: models are trained on behaviour
-- before the cut-off and tested on purchases from the cut-off on. The cut-off is the start
-- (midnight UTC) of the last day with behaviour, so the test set is always one whole day.
SELECT date_trunc('day', max("at")) AS cutoff
FROM {{ ref('behaviour') }}
