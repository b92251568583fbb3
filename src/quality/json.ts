import { quoteIdent, quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR } from './rules.js';

/**
 * Types JSON text by a declared schema without losing a row or a reason. Every row is parsed
 * strictly once; only a row that fails is examined again (a CASE evaluates a branch just for the
 * rows that reach it), so a missing field becomes NULL (rules decide if that is allowed) while a
 * value of the wrong type is an error naming the field, what was expected and what came.
 *
 * `relation` must have a VARCHAR column `textColumn`; the result has the `keep` columns, the typed
 * columns and `__error`.
 */
export function typeJson(relation: string, textColumn: string, columns: Record<string, string>, keep: string[]): string {
  const names = Object.keys(columns);
  const structure = quoteLiteral(JSON.stringify(columns));
  const asText = quoteLiteral(JSON.stringify(Object.fromEntries(names.map((n) => [n, 'VARCHAR']))));
  const v = quoteIdent(textColumn);
  const fieldErrors = names
    .map((n) => {
      const text = `try(json_transform(${v}, ${asText})).${quoteIdent(n)}`;
      const typed = `try(json_transform(${v}, ${structure})).${quoteIdent(n)}`;
      return `CASE WHEN ${text} IS NOT NULL AND ${typed} IS NULL THEN ${quoteLiteral(`${n}: expected ${columns[n]}, got `)} || left(${text}, 100) END`;
    })
    .join(', ');
  const keepList = keep.map(quoteIdent).join(', ');
  return `(
    SELECT ${keepList}${keep.length ? ', ' : ''}${names.map((n) => `__typed.${quoteIdent(n)} AS ${quoteIdent(n)}`).join(', ')}, ${PARSE_ERROR}
    FROM (
      SELECT ${keepList}${keep.length ? ', ' : ''}
        CASE WHEN __strict IS NOT NULL THEN __strict ELSE try(json_transform(${v}, ${structure})) END AS __typed,
        CASE
          WHEN __strict IS NOT NULL THEN NULL
          WHEN NOT coalesce(json_valid(${v}), false) THEN 'not valid JSON: ' || left(coalesce(${v}, ''), 100)
          WHEN json_type(${v}) <> 'OBJECT' THEN 'expected a JSON object, got ' || lower(json_type(${v}))
          ELSE nullif(concat_ws('; ', ${fieldErrors}), '')
        END AS ${PARSE_ERROR}
      FROM (SELECT *, try(json_transform_strict(${v}, ${structure})) AS __strict FROM ${relation})
    ))`;
}
