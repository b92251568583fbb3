-- Every source column, plus the clickstream rules' derived columns. The category path is split
-- once; the rule for missing text runs on its first and last segments.
SELECT
  * EXCLUDE (first_segment, last_segment),
  or_other(first_segment) AS department,
  or_other(last_segment) AS product,
  CASE WHEN event_type = 'purchase' THEN price ELSE 0 END AS revenue
FROM (
  SELECT *, split_part(category_code, '.', 1) AS first_segment, split_part(category_code, '.', -1) AS last_segment
  FROM {{ source('clickstream') }}
)
