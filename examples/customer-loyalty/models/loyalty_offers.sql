-- Promotions by segment: one offer for each tier x recency segment, plus a welcome offer for
-- customers who have never ordered (they are always Bronze). Lapsed and lapsing customers get
-- win-back offers that grow with their tier; active ones get rewards that keep them coming.
SELECT tier, segment, offer_code, offer
FROM (
  VALUES
    ('Bronze',   'new',     'WELCOME',          'Free size upgrade on your first drink'),
    ('Bronze',   'active',  'BRONZE_BOOST',     'Double points on your next three drinks'),
    ('Bronze',   'lapsing', 'BRONZE_NUDGE',     '10% off your next drink this week'),
    ('Bronze',   'lapsed',  'BRONZE_WINBACK',   'Free chocolate or greentea on your next visit'),
    ('Silver',   'active',  'SILVER_BOOST',     'Double points on mochas this week'),
    ('Silver',   'lapsing', 'SILVER_NUDGE',     '15% off your next drink this week'),
    ('Silver',   'lapsed',  'SILVER_WINBACK',   'Free latte on your next visit'),
    ('Gold',     'active',  'GOLD_THANKS',      'Free pastry with every cappucino this week'),
    ('Gold',     'lapsing', 'GOLD_NUDGE',       '20% off your next two drinks'),
    ('Gold',     'lapsed',  'GOLD_WINBACK',     'Free drink of your choice: we miss you'),
    ('Platinum', 'active',  'PLATINUM_THANKS',  'Every tenth drink free, priority pickup'),
    ('Platinum', 'lapsing', 'PLATINUM_NUDGE',   'Free drink of your choice this week'),
    ('Platinum', 'lapsed',  'PLATINUM_WINBACK', 'Two free drinks and a call from the store manager')
) AS o(tier, segment, offer_code, offer)
