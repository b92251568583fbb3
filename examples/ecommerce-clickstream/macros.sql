-- Missing text, however the source spelled it: NULL, empty, blanks, or the NaN text that a JSON
-- round trip in the original system produced. Only whole values count: 'tognana' is a brand.
CREATE OR REPLACE MACRO is_missing(v) AS v IS NULL OR trim(v) = '' OR lower(trim(v)) = 'nan';
CREATE OR REPLACE MACRO or_other(v) AS CASE WHEN is_missing(v) THEN 'other' ELSE v END;
