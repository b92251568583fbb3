-- stg_identifies: one row per identify call, with the traits pulled out. user_id is null when a
-- visitor gave traits without an account (a newsletter sign-up). Segment does not type traits:
-- signup_date and newsletter_opt_in are cast with TRY_CAST, and the raw traits object stays, so a
-- value that does not cast is never lost (a data check can compare the two).
SELECT
  message_id,
  anonymous_id,
  user_id,
  timestamp,
  received_at,
  dt,
  traits ->> '$.email' AS email,
  traits ->> '$.first_name' AS first_name,
  traits ->> '$.plan' AS plan,
  TRY_CAST(traits ->> '$.signup_date' AS DATE) AS signup_date,
  traits ->> '$.age_band' AS age_band,
  traits ->> '$.country' AS country,
  TRY_CAST(traits ->> '$.newsletter_opt_in' AS BOOLEAN) AS newsletter_opt_in,
  traits
FROM {{ ref('events') }}
WHERE type = 'identify'
