-- Serving layer, batch: every known customer's tier, recency segment and offer as of each day with
-- orders (each data_dt of loyalty), one lake partition per day (as_of_dt). A run for a day
-- overwrites that day's partition. A day's standing adds up the customer's loyalty rows up to and
-- including that day only, so re-running an old day gives the same answer. Days without orders get
-- no partition: the history grows with the days the shop is open, not with the calendar. Tier and recency
-- thresholds come from loyalty_rules, offers from loyalty_offers (see there for the rules). A
-- customer without an order yet is Bronze and 'new'. Ids that are not known customers are left
-- out: they have no card to send an offer to (their spend stays visible in loyalty).
WITH days AS (
  SELECT DISTINCT data_dt AS as_of_dt FROM {{ ref('loyalty') }}
),
standing AS (
  -- Every customer on every day; loyalty has at most one row per customer and day, so the running
  -- sums over the days are the totals up to each day.
  SELECT
    c.cust_id,
    c.cust_nm AS cust_name,
    c.cust_member_card_no,
    CAST(sum(coalesce(l.points, 0)) OVER upto AS BIGINT) AS total_points,
    CAST(sum(coalesce(l.spnd_amt, 0)) OVER upto AS BIGINT) AS total_spend,
    max(l.data_dt) OVER upto AS last_order_dt,
    d.as_of_dt
  FROM {{ ref('customers_cln') }} AS c
  CROSS JOIN days AS d
  LEFT JOIN {{ ref('loyalty') }} AS l ON l.cust_id = c.cust_id AND l.data_dt = d.as_of_dt
  WINDOW upto AS (PARTITION BY c.cust_id ORDER BY d.as_of_dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
ranked AS (
  SELECT
    s.*,
    s.as_of_dt - s.last_order_dt AS days_since_last_order,
    CASE
      WHEN s.total_points >= r.platinum_min_points THEN 'Platinum'
      WHEN s.total_points >= r.gold_min_points THEN 'Gold'
      WHEN s.total_points >= r.silver_min_points THEN 'Silver'
      ELSE 'Bronze'
    END AS tier,
    CASE
      WHEN s.last_order_dt IS NULL THEN 'new'
      WHEN s.as_of_dt - s.last_order_dt <= r.active_max_days THEN 'active'
      WHEN s.as_of_dt - s.last_order_dt <= r.lapsing_max_days THEN 'lapsing'
      ELSE 'lapsed'
    END AS segment
  FROM standing AS s
  -- loyalty_rules has exactly one row: this adds its columns to every customer.
  CROSS JOIN {{ ref('loyalty_rules') }} AS r
)
SELECT
  k.cust_id,
  k.cust_name,
  k.cust_member_card_no,
  k.total_points,
  k.total_spend,
  k.last_order_dt,
  k.days_since_last_order,
  k.tier,
  k.segment,
  o.offer_code,
  o.offer,
  k.as_of_dt
FROM ranked AS k
LEFT JOIN {{ ref('loyalty_offers') }} AS o ON o.tier = k.tier AND o.segment = k.segment
