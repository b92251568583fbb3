-- The loyalty programme's numbers, in one row, so every model reads the same rule:
--   points   each order earns floor(price / spend_per_point) points (1 point per 10 spent, per order).
--   tiers    by total points earned up to the day being built:
--            Bronze < silver_min_points <= Silver < gold_min_points <= Gold < platinum_min_points <= Platinum.
--   recency  days from a customer's last order day to the day being built:
--            active <= active_max_days < lapsing <= lapsing_max_days < lapsed; no order at all is 'new'.
SELECT
  CAST(spend_per_point AS INTEGER) AS spend_per_point,
  CAST(silver_min_points AS BIGINT) AS silver_min_points,
  CAST(gold_min_points AS BIGINT) AS gold_min_points,
  CAST(platinum_min_points AS BIGINT) AS platinum_min_points,
  CAST(active_max_days AS BIGINT) AS active_max_days,
  CAST(lapsing_max_days AS BIGINT) AS lapsing_max_days
FROM (
  VALUES (10, 100, 300, 750, 14, 30)
) AS r(spend_per_point, silver_min_points, gold_min_points, platinum_min_points, active_max_days, lapsing_max_days)
