-- daily_event_counts: events per drop day (dt, the UTC day of received_at), type and, for track
-- calls, event name (NULL for page and identify). Per dt rather than per event day, so the counts
-- reconcile with each day's source files.
-- One drop's rows: a run for a day replaces that dt's rows in the warehouse (timeColumn dt).
SELECT
  dt,
  type,
  event,
  count(*) AS events
FROM {{ ref('events') }}
GROUP BY dt, type, event
