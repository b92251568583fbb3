import { z } from 'zod';
import { TributaryError } from '../core/errors.js';
import { quoteIdent, quoteLiteral } from '../engine/sql.js';
import { defineMaterialization, type HistoryInput } from './types.js';

const schema = z
  .object({
    kind: z.literal('snapshot'),
    /**
     * How a changed row is told apart, as dbt names its strategies: `timestamp` compares
     * `updatedAt` with the version's start; `check` compares `checkCols` (or `all` columns).
     */
    strategy: z.enum(['timestamp', 'check']),
    /** The column(s) (or SQL expressions) that identify one record across versions. */
    uniqueKey: z.array(z.string().min(1)).min(1),
    /** timestamp: the column holding when the source last changed the row; check: optional, else the run's time. */
    updatedAt: z.string().min(1).optional(),
    checkCols: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).optional(),
    /** A record the source no longer has: kept current (`ignore`), closed (`invalidate`), or closed with a deletion version (`new_record`). */
    hardDeletes: z.enum(['ignore', 'invalidate', 'new_record']).default('ignore'),
    /** What `dbt_valid_to` holds for current versions (SQL), instead of NULL. */
    validToCurrent: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => c.strategy !== 'timestamp' || c.updatedAt, { message: 'the timestamp strategy needs updatedAt, the column holding when the row last changed', path: ['updatedAt'] })
  .refine((c) => c.strategy !== 'check' || c.checkCols, { message: "the check strategy needs checkCols: a list of columns, or 'all'", path: ['checkCols'] });

type SnapshotConfig = z.output<typeof schema>;

/** The columns a snapshot adds to its query's, named as dbt names them. */
const META = ['dbt_scd_id', 'dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to'] as const;
const DELETED = 'dbt_is_deleted';

/**
 * The whole snapshot table after this run: the stored versions, those the source changed or
 * dropped closed, and the new versions added. Written as a rebuild, so a failed run leaves the
 * history as it was; each clause mirrors dbt's snapshot (staging table, then merge), so its
 * table equals dbt's cell for cell.
 */
async function history(config: SnapshotConfig, input: HistoryInput): Promise<string> {
  const now = `${quoteLiteral(input.now.replace('T', ' ').replace('Z', ''))}::TIMESTAMP`;
  const keys = config.uniqueKey;
  const keyFields = keys.map((k, i) => `${k} AS __key_${i}`).join(', ');
  const keyList = keys.map((_k, i) => `__key_${i}`).join(', ');
  const joinOn = (a: string, b: string) => keys.map((_k, i) => `${a}.__key_${i} = ${b}.__key_${i}`).join(' AND ');
  const keyMissing = (a: string) => keys.map((_k, i) => `${a}.__key_${i} IS NULL`).join(' AND ');
  const hash = (args: string[]) => `md5(${args.map((a) => `coalesce(CAST(${a} AS VARCHAR), '')`).join(` || '|' || `)})`;
  const queryColumns = (await input.describe(input.query)).map((c) => c.name);
  const stored = input.table ? (await input.describe(`SELECT * FROM ${input.table}`)).map((c) => c.name) : undefined;
  for (const meta of META) {
    if (queryColumns.includes(meta)) throw new TributaryError(`the snapshot's query outputs '${meta}', a column the snapshot adds itself`, { place: { field: input.field }, hint: `rename or drop it in the query` });
  }
  const duplicates = await input.rows(`SELECT ${keys.map((k, i) => `${k} AS k${i}`).join(', ')}, count(*) AS n FROM (${input.query}) GROUP BY ALL HAVING count(*) > 1 LIMIT 3`);
  if (duplicates.length) {
    throw new TributaryError(`the snapshot's unique key (${keys.join(', ')}) is not unique in its query: ${duplicates.map((d) => `${Object.values(d).slice(0, -1).join('|')} (${String(d.n)} rows)`).join(', ')}`, {
      place: { field: input.field },
      hint: 'a snapshot keeps one version per key at a time: deduplicate the query, or choose a key that identifies one row; nothing was written',
    });
  }
  const updatedAt = config.updatedAt ? `source.${config.updatedAt}` : now;
  const current = config.validToCurrent ?? 'NULL';
  // dbt_valid_to of a current version: typed as the version's start, as dbt types it.
  const openEnd = `coalesce(nullif(${updatedAt}, ${updatedAt}), ${current})`;
  const scdId = hash([...keys.map((k) => `source.${k}`), updatedAt]);
  const newRecord = config.hardDeletes === 'new_record';
  const newVersions = (extra: string) => `SELECT source.* EXCLUDE (${keyList}), ${scdId} AS dbt_scd_id, ${updatedAt} AS dbt_updated_at, ${updatedAt} AS dbt_valid_from, ${openEnd} AS dbt_valid_to${extra}`;
  if (!input.table || !stored) {
    return `${newVersions(newRecord ? `, 'False' AS ${DELETED}` : '')} FROM (SELECT *, ${keyFields} FROM (${input.query})) AS source`;
  }
  for (const meta of META) {
    if (!stored.includes(meta)) throw new TributaryError(`table ${input.table} has no column '${meta}': it is not a snapshot`, { place: { field: input.field }, hint: 'rebuild it with --full-refresh, or give the snapshot another name' });
  }
  const isCurrent = (a: string) => (config.validToCurrent ? `(${a}.dbt_valid_to = ${config.validToCurrent} OR ${a}.dbt_valid_to IS NULL)` : `${a}.dbt_valid_to IS NULL`);
  const checkCols = config.checkCols === 'all' ? queryColumns : (config.checkCols ?? []);
  // A column the query gained since the last run counts as a change of every row, as in dbt.
  const columnAdded = config.checkCols === 'all' && queryColumns.some((c) => !stored.includes(c));
  const compared = checkCols.map((c) => (config.checkCols === 'all' ? quoteIdent(c) : c));
  const changed =
    config.strategy === 'timestamp'
      ? `(snapshotted.dbt_valid_from < source.${config.updatedAt})`
      : columnAdded
        ? 'TRUE'
        : `(${compared.map((c) => `snapshotted.${c} IS DISTINCT FROM source.${c}`).join(' OR ')})`;
  const changedOrRevived = newRecord ? `(${changed} OR snapshotted.${DELETED} = 'True')` : changed;
  const deletedNow = newRecord ? ` AND NOT (snapshotted.${DELETED} = 'True')` : '';
  return `WITH source AS (SELECT *, ${keyFields} FROM (${input.query})),
snapshotted AS (SELECT *, ${keyFields} FROM ${input.table} AS stored WHERE ${isCurrent('stored')}),
closed AS (
  SELECT snapshotted.dbt_scd_id, ${updatedAt} AS valid_to FROM source JOIN snapshotted ON ${joinOn('snapshotted', 'source')} WHERE ${changedOrRevived}
  ${config.hardDeletes === 'ignore' ? '' : `UNION ALL SELECT snapshotted.dbt_scd_id, ${now} FROM snapshotted LEFT JOIN source ON ${joinOn('snapshotted', 'source')} WHERE ${keyMissing('source')}${deletedNow}`}
),
kept AS (
  SELECT stored.* REPLACE (CASE WHEN closed.dbt_scd_id IS NOT NULL AND ${isCurrent('stored')} THEN closed.valid_to ELSE stored.dbt_valid_to END AS dbt_valid_to)
  FROM ${input.table} AS stored LEFT JOIN closed ON CAST(closed.dbt_scd_id AS VARCHAR) = CAST(stored.dbt_scd_id AS VARCHAR)
),
added AS (
  ${newVersions(newRecord ? `, 'False' AS ${DELETED}` : '')}
  FROM source LEFT JOIN snapshotted ON ${joinOn('snapshotted', 'source')}
  WHERE ${keyMissing('snapshotted')} OR ${changedOrRevived}
)${
    newRecord
      ? `,
deletions AS (
  SELECT snapshotted.* EXCLUDE (${keyList}) REPLACE (${now} AS dbt_valid_from, ${now} AS dbt_updated_at, ${hash(['snapshotted.dbt_scd_id', now])} AS dbt_scd_id, 'True' AS ${DELETED})
  FROM snapshotted LEFT JOIN source ON ${joinOn('snapshotted', 'source')} WHERE ${keyMissing('source')}${deletedNow}
)`
      : ''
  }
SELECT * FROM kept
UNION ALL BY NAME SELECT * FROM added${newRecord ? `\nUNION ALL BY NAME SELECT * FROM deletions` : ''}`;
}

/**
 * A table that keeps every version of its query's rows (dbt's snapshot, SCD type 2): each run
 * closes the versions whose record changed or (if asked) disappeared, and adds the new ones.
 */
export const snapshotMaterialization = defineMaterialization({
  kind: 'snapshot',
  description: 'a history of its query’s rows (SCD type 2, as dbt snapshots): each run closes changed versions and adds new ones',
  usedBy: ['model'],
  config: schema,
  create: (config, context) => {
    const store = context.defaultStore();
    if (!store.readable) {
      throw new TributaryError(`a snapshot must live where the engine reads its history, and store '${store.kind}' is written only`, { place: { field: context.field }, hint: 'keep the snapshot in the warehouse (no store)' });
    }
    return {
      kind: 'snapshot',
      label: `snapshot (${config.strategy})`,
      reference: 'relation',
      partitions: false,
      intervals: false,
      store,
      shape: (base) => base,
      writeMode: () => ({ kind: 'replace' }),
      history: (input) => history(config, input),
    };
  },
});
