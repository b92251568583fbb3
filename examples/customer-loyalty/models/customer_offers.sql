-- Serving layer: each known customer's standing on the latest day of customer_tiers (tier,
-- segment, the offer for them), one row per cust_id, kept as a serving table that answers key
-- lookups (GET /v1/lookup/customer_offers/<cust_id>): what the till shows when a card is scanned.
SELECT *
FROM {{ ref('customer_tiers') }}
WHERE as_of_dt = (SELECT max(as_of_dt) FROM {{ ref('customer_tiers') }})
