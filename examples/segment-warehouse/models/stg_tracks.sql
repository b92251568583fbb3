-- stg_tracks: one row per track call, client- and server-side. The properties the reports and
-- analysts use most are pulled out as text; the whole properties object stays for the rest
-- (symptom descriptions run to 2,000 characters and are kept whole).
SELECT
  message_id,
  anonymous_id,
  user_id,
  event,
  timestamp,
  received_at,
  dt,
  library_name,
  page_path,
  properties ->> '$.plan' AS plan,
  properties ->> '$.triage_outcome' AS triage_outcome,
  properties ->> '$.symptom_description' AS symptom_description,
  properties
FROM {{ ref('events') }}
WHERE type = 'track'
