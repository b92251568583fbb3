-- Speed layer: each micro-batch of order lines, cleaned and priced. The stream `orders` runs it on
-- every batch and appends the result to the lake table transactions_cln (see tributary.config.ts);
-- customer_points reads it per batch too. It keeps every order (only the stream's parse upstream
-- may refuse a line, as a dead letter). Every join below is a LEFT join on a unique key, so it can
-- add columns but never drop or repeat an order:
--   menu           key `item`; odr_menu is lower-cased and trimmed first. A drink not on the menu
--                  keeps its order with odr_prc and odr_pts NULL.
--   customers_cln  key `cust_id` (unique in the customer file). An id that is not a known customer
--                  keeps its order with cust_name NULL.
-- odr_pts applies the points rule of loyalty_rules once per order (floor(price / spend_per_point));
-- the scalar subquery reads the rule's single row and fails loudly if it ever has more than one.
SELECT
  o.customer_id AS cust_id,
  o.odr_menu,
  m.price AS odr_prc,
  m.price // (SELECT spend_per_point FROM {{ ref('loyalty_rules') }}) AS odr_pts,
  o.ordered_at AS odr_tms,
  c.cust_nm AS cust_name
FROM (
  SELECT customer_id, lower(trim(menu)) AS odr_menu, ordered_at
  FROM {{ source('orders') }}
) AS o
LEFT JOIN {{ ref('menu') }} AS m ON m.item = o.odr_menu
LEFT JOIN {{ ref('customers_cln') }} AS c ON c.cust_id = o.customer_id
