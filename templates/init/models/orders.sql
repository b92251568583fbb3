-- Loads the order files into the lake, one partition a day. Rows failing a rule are quarantined.
SELECT *, upper(customer) AS customer_key
FROM {{ source('orders') }}
