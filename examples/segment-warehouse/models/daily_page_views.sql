-- daily_page_views: page views per UTC day (of the event's timestamp), host and path, with the
-- number of distinct browsers that viewed the page.
-- Rebuilt whole on every run: a later drop still brings page views of earlier days (devices
-- that were offline deliver hours late), so a day's numbers are final only after the next drop.
SELECT
  day,
  host,
  path,
  count(*) AS page_views,
  count(DISTINCT anonymous_id) AS browsers
FROM {{ ref('int_page_views') }}
GROUP BY day, host, path
