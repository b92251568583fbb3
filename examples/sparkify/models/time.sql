-- Dimension: one row per distinct start_time of songplays (every songplay finds its time row).
-- All parts are UTC. `week` is the ISO-8601 week (Monday start; 1–53) and `weekday` the ISO day
-- of the week, 1 = Monday … 7 = Sunday, so week and weekday follow the same convention.
SELECT
  start_time,
  CAST(hour(start_time) AS INTEGER) AS hour,
  CAST(day(start_time) AS INTEGER) AS day,
  CAST(week(start_time) AS INTEGER) AS week,
  CAST(month(start_time) AS INTEGER) AS month,
  CAST(year(start_time) AS INTEGER) AS year,
  CAST(isodow(start_time) AS INTEGER) AS weekday
FROM (SELECT DISTINCT start_time FROM {{ ref('songplays') }})
