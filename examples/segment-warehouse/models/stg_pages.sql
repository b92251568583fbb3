-- stg_pages: one row per page call. The page fields come from context.page, which analytics.js fills
-- with the same values as a page call's properties.
SELECT
  message_id,
  anonymous_id,
  user_id,
  timestamp,
  received_at,
  dt,
  name,
  page_url AS url,
  page_path AS path,
  page_search AS search,
  page_referrer AS referrer,
  page_title AS title,
  device_type
FROM {{ ref('events') }}
WHERE type = 'page'
