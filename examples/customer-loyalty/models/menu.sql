-- The shop's six drinks and their prices, as the original system priced them. 'cappucino' keeps the
-- original's spelling: it is the key the order lines carry.
SELECT item, CAST(price AS INTEGER) AS price
FROM (
  VALUES
    ('espresso', 65),
    ('cappucino', 90),
    ('mocha', 80),
    ('latte', 70),
    ('chocolate', 60),
    ('greentea', 60)
) AS m(item, price)
