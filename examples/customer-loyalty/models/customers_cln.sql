-- Batch layer: the loyalty programme's customers, cleaned. This is the only model that reads the
-- customers source, so it is a load: it keeps every source row (project, rename, cast, derive only).
-- Rules:
--   cust_nm              runs of whitespace become one space, then the ends are trimmed; an empty
--                        name becomes NULL. (DuckDB's trim() removes spaces only, hence collapsing first.)
--   cust_member_card_no  any quote characters the CSV reader left are removed, then trimmed; empty -> NULL.
--   cust_gender          'M' -> 'MALE', 'F' -> 'FEMALE', anything else (the real file's 'N', NULL,
--                        blanks) -> 'NA'; trimmed and case-insensitive.
SELECT
  customer_id AS cust_id,
  nullif(trim(regexp_replace(customer_name, '[\t\n\v\f\r ]+', ' ', 'g')), '') AS cust_nm,
  email AS cust_email,
  customer_since AS cust_strt_dt,
  nullif(trim(replace(loyalty_card_number, '"', '')), '') AS cust_member_card_no,
  birthdate AS cust_birth_dt,
  birth_year AS cust_birth_yr,
  CASE upper(trim(gender))
    WHEN 'M' THEN 'MALE'
    WHEN 'F' THEN 'FEMALE'
    ELSE 'NA'
  END AS cust_gender,
  home_store
FROM {{ source('customers') }}
