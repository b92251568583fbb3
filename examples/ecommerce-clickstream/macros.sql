-- Missing text, however the source spelled it: NULL, empty, blanks, or the NaN text that a JSON
-- round trip in the original system produced. Only whole values count: 'tognana' is a brand.
-- The spellings of NaN are listed rather than lower-cased, because this runs on every event: one
-- lookup of the trimmed value is cheaper than trimming and lower-casing it twice. list_contains,
-- not IN: a long IN list is planned as a join, which hides that a load keeps every row.
CREATE OR REPLACE MACRO is_missing(v) AS v IS NULL OR list_contains(['', 'nan', 'naN', 'nAn', 'nAN', 'Nan', 'NaN', 'NAn', 'NAN'], trim(v));
CREATE OR REPLACE MACRO or_other(v) AS CASE WHEN is_missing(v) THEN 'other' ELSE v END;
