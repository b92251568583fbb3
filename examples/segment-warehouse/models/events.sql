-- events: the load of the Segment drops. Every event of every type (track, page, identify) as it
-- arrived, with the fields later models need taken out of context once.
-- Rule: a model that reads a source keeps every row (project, rename, cast, derive only).
-- The source declares only the columns the models need (the original's lesson): context is read
-- as a struct of page, device.type and library.name, so ip, userAgent, locale, campaign and
-- sentAt are never parsed into the lake. properties and traits stay whole (JSON): track and
-- identify payloads differ per event, and the base tables hand them on to the warehouse.
-- The date partition dt (UTC day of received_at, so one day's drop is one partition) is added by
-- the config's partitionBy.
-- Long values (landing URLs with e-mail tracking parameters, free-text symptom descriptions in
-- properties) stay whole: VARCHAR and JSON here, TEXT/JSONB in the warehouse, never VARCHAR(255).
SELECT
  message_id,
  type,
  event,
  name,
  anonymous_id,
  user_id,
  timestamp,
  received_at,
  -- analytics.js attaches the current page to every event it sends, not only to page calls.
  context.page.url AS page_url,
  context.page.path AS page_path,
  context.page.search AS page_search,
  context.page.referrer AS page_referrer,
  context.page.title AS page_title,
  context.device.type AS device_type,
  context.library.name AS library_name,
  properties,
  traits
FROM {{ source('segment_events') }}
