-- int_page_views: page calls with the URL taken apart. host and query string from the URL; UTM
-- parameters parsed from the query string (URL-decoded); the referrer's host and type
-- (direct, internal, search, social, referral); the traffic source and medium: the UTM values when
-- the URL has them, else derived from the referrer as web analytics tools do (search engine ->
-- organic, social site -> social, other site -> referral, none or our own site -> direct).
WITH parsed AS (
  SELECT
    message_id,
    anonymous_id,
    user_id,
    timestamp,
    received_at,
    dt,
    CAST(timestamp AS DATE) AS day,
    name,
    title,
    url,
    lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]+)', 1)) AS host,
    path,
    search,
    url_decode(nullif(regexp_extract(search, '[?&]utm_source=([^&#]*)', 1), '')) AS utm_source,
    url_decode(nullif(regexp_extract(search, '[?&]utm_medium=([^&#]*)', 1), '')) AS utm_medium,
    url_decode(nullif(regexp_extract(search, '[?&]utm_campaign=([^&#]*)', 1), '')) AS utm_campaign,
    url_decode(nullif(regexp_extract(search, '[?&]utm_term=([^&#]*)', 1), '')) AS utm_term,
    url_decode(nullif(regexp_extract(search, '[?&]utm_content=([^&#]*)', 1), '')) AS utm_content,
    nullif(referrer, '') AS referrer,
    nullif(lower(regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]+)', 1)), '') AS referrer_host,
    device_type
  FROM {{ ref('stg_pages') }}
),
typed AS (
  SELECT
    *,
    CASE
      WHEN referrer_host IS NULL THEN 'direct'
      WHEN referrer_host = 'vitalis.example' OR ends_with(referrer_host, '.vitalis.example') THEN 'internal'
      WHEN regexp_matches(referrer_host, '(^|\.)(google|bing|duckduckgo|yahoo|ecosia|baidu|yandex)\.') THEN 'search'
      WHEN regexp_matches(referrer_host, '(^|\.)(facebook|instagram|tiktok|linkedin|reddit|twitter|pinterest|youtube)\.com$|^(t\.co|x\.com)$') THEN 'social'
      ELSE 'referral'
    END AS referrer_type
  FROM parsed
)
SELECT
  *,
  coalesce(utm_source, CASE referrer_type
    WHEN 'search' THEN regexp_extract(referrer_host, '(google|bing|duckduckgo|yahoo|ecosia|baidu|yandex)', 1)
    WHEN 'social' THEN CASE WHEN referrer_host IN ('t.co', 'x.com') THEN 'twitter' ELSE regexp_extract(referrer_host, '(facebook|instagram|tiktok|linkedin|reddit|twitter|pinterest|youtube)', 1) END
    WHEN 'referral' THEN regexp_replace(referrer_host, '^www\.', '')
    ELSE '(direct)'
  END) AS source,
  coalesce(utm_medium, CASE referrer_type
    WHEN 'search' THEN 'organic'
    WHEN 'social' THEN 'social'
    WHEN 'referral' THEN 'referral'
    ELSE '(none)'
  END) AS medium
FROM typed
