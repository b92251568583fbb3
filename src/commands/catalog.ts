import { crawl, exportDdl } from '../catalog/index.js';
import { TributaryError } from '../core/errors.js';
import { renderRows } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';

const partitionText = (p: Record<string, string | null>) => Object.entries(p).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join('/') || '(none)';

export const catalogCommand = defineCommand({
  ...declared.catalog,
  async run({ ws, io }, input) {
    const { metastore } = ws;
    if (input.export) {
      if (!input.table) throw new TributaryError('--export needs a table: tributary catalog TABLE --export ENGINE', { hint: 'tributary catalog lists the tables' });
      const exported = await ws.lake.export(input.table, { format: input.tableFormat ?? 'iceberg', snapshot: input.snapshot, location: input.location });
      io.out(exportDdl(exported, input.export, { database: input.database }));
      return;
    }
    const exportOnly = (['tableFormat', 'snapshot', 'database', 'location'] as const).filter((k) => input[k] !== undefined);
    if (exportOnly.length) {
      throw new TributaryError(`${exportOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} go${exportOnly.length === 1 ? 'es' : ''} with --export`, {
        hint: 'e.g. tributary catalog events --export trino --snapshot 12',
      });
    }
    if (!input.table) {
      const tables = await metastore.tables();
      io.out(
        renderRows(
          tables.map((t) => ({ table: t.name, kind: t.kind, store: t.store ?? '', rows: t.rows ?? '', files: t.files || '', partitioned_by: t.partition_by.join(', '), snapshot: t.updated_snapshot ?? '', updated: t.updated_at.slice(0, 19) })),
          input.format,
          undefined,
          io.tty,
        ),
      );
      return;
    }
    const info = await metastore.table(input.table);
    if (!info) throw new TributaryError(`no table '${input.table}' in the catalog`, { hint: 'run `tributary catalog` to list tables, or `tributary run` to build them' });
    const partitions = info.partition_by.length ? (await metastore.partitions(input.table)).map((p) => ({ partition: partitionText(p.partition), files: p.files, rows: p.rows, bytes: p.bytes })) : [];
    const lineage = (await metastore.lineage()).filter((l) => l.model === input.table || l.upstream === input.table);
    const versions = await metastore.schemaVersions(input.table);
    const batches = await metastore.processedBatches(input.table);
    const { format } = input;
    if (format === 'json') {
      const { columns, ...table } = info;
      io.out(
        JSON.stringify(
          {
            ...table,
            columns,
            partitions,
            lineage: {
              upstream: lineage.filter((l) => l.model === input.table).map((l) => ({ table: l.upstream, kind: l.upstream_kind })),
              // A source may share the table's name (a load of `orders` into `orders`): it reads the source, not the table.
              downstream: lineage.filter((l) => l.upstream === input.table && l.upstream_kind !== 'source').map((l) => l.model),
            },
            schemaVersions: versions,
            ...(batches.length ? { batches } : {}),
          },
          null,
          2,
        ),
      );
      return;
    }
    // CSV is one table of rows: a table's columns (the rest of its description is JSON's).
    if (format === 'csv') {
      io.out(renderRows(info.columns, 'csv'));
      return;
    }
    io.out(`${info.name} (${info.kind}${info.store && info.store !== info.kind ? ` in ${info.store}` : ''}${info.location ? `, ${info.location}` : ''})${info.description ? `\n${info.description}` : ''}`);
    io.out(renderRows(info.columns, 'table', undefined, io.tty));
    if (partitions.length) io.out(renderRows(partitions, 'table', undefined, io.tty));
    if (lineage.length) io.out(`lineage:\n${lineage.map((l) => `  ${l.upstream} (${l.upstream_kind}) → ${l.model}`).join('\n')}`);
    if (versions.length > 1) io.out(`schema versions: ${versions.length} (latest ${versions.at(-1)!.detected_at})`);
    if (batches.length) io.out(`batches processed: ${batches.length}, ${spans(batches).join(', ')}`);
  },
});

export const snapshotsCommand = defineCommand({
  ...declared.snapshots,
  async run({ ws, io }, input) {
    const snapshots = await ws.metastore.snapshots(input.limit);
    io.out(renderRows(snapshots.map((s) => ({ snapshot: s.snapshot_id, committed: s.committed_at.slice(0, 23), operation: s.operation, run: s.run_id ?? '', tables: s.tables.join(', ') })), input.format, undefined, io.tty));
  },
});

export const crawlCommand = defineCommand({
  ...declared.crawl,
  async run({ ws, io }, input) {
    const engine = await ws.engine.fork({ background: true });
    try {
      const report = await crawl(engine, ws.metastore, input.path, input.table, { store: input.store });
      if (input.format === 'json') {
        io.out(JSON.stringify(report, null, 2));
        return;
      }
      const { format } = input;
      io.out(
        `${report.table}: ${report.files} ${report.format} file(s), ${report.rows.toLocaleString('en-US')} rows, ` +
          `${report.partitions} partition(s)${report.partitionBy.length ? ` by ${report.partitionBy.join(', ')}` : ''}`,
      );
      io.out(renderRows(report.columns, format, undefined, io.tty));
      const describe = (d: NonNullable<typeof report.sinceLastCrawl>) =>
        [...d.added.map((c) => `added ${c.name} ${c.type}`), ...d.removed.map((c) => `removed ${c.name}`), ...d.retyped.map((c) => `${c.name} ${c.from} → ${c.to}`)].join('; ');
      for (const d of report.dropDrift) io.out(`schema drift at ${d.partition}: ${describe(d.drift)}`);
      if (report.sinceLastCrawl && !report.sinceLastCrawl.unchanged) io.out(`schema drift since the last crawl: ${describe(report.sinceLastCrawl)}`);
      if (report.reference && report.storeDrift?.length) {
        const files = new Set(report.storeDrift.map((d) => d.file)).size;
        io.out(`drift by store and day: ${report.storeDrift.length} finding(s) in ${files} of ${report.files} file(s); ${report.reference.files} file(s) have the reference layout`);
        io.out(renderRows(report.storeDrift.map(({ partition, store, change, column, detail, rows }) => ({ partition, store, change, column, detail, rows })), format, undefined, io.tty));
      }
    } finally {
      engine.close();
    }
  },
});

/** Processed batches as their unbroken runs (`2025-03-08T00:00 to 2025-03-11T00:00`): a gap shows between two. */
function spans(batches: readonly { start: string; end: string }[]): string[] {
  const runs: { start: string; end: string }[] = [];
  for (const b of batches) {
    const last = runs.at(-1);
    if (last && last.end === b.start) last.end = b.end;
    else runs.push({ ...b });
  }
  return runs.map((r) => `${r.start.slice(0, 16)} to ${r.end.slice(0, 16)}`);
}

