import path from 'node:path';
import { Metastore, SharedCatalog } from '../catalog/index.js';
import { openStore, type Store, type StoreConfig } from '../connectors/index.js';
import type { Project } from '../config/project.js';
import { makeFolder, TributaryError } from '../core/errors.js';
import { Engine, ReadOnlyPolicy } from '../engine/index.js';
import { Lake, LocalLakeStorage, S3LakeStorage, parseS3Url, type LakeStorage } from '../lake/index.js';
import { Checkpointer, type CheckpointStats } from './checkpoints.js';
import { Relations } from './relations.js';

/**
 * A project's live state: the engine on its warehouse, the metastore, the lake and the stores it
 * writes to. Embedded, one process owns it (the warehouse file is locked) and other processes
 * reach it through that process (the server's command endpoint). With the catalog in PostgreSQL
 * (`catalogUrl`), every process of the project opens its own workspace on the shared catalog and
 * warehouse, and follows the others' commits.
 */
export interface Workspace {
  project: Project;
  /** The owner's first connection. Work that runs beside other work forks its own. */
  engine: Engine;
  metastore: Metastore;
  lake: Lake;
  /** The read-only policy for SQL people type (CLI, shell, SQL lab). */
  policy: ReadOnlyPolicy;
  /** The store a config names, one per distinct config (a database connection is shared). */
  store(config: StoreConfig, field: string): Store;
  /** The same state seen through another view of the project (a command's --source overrides). */
  withProject(project: Project): Workspace;
  /** The catalog in PostgreSQL every process of the project shares, if it has one (else the state is this process's). */
  shared: SharedCatalog | undefined;
  /** The embedded warehouse's checkpoints so far (none with a shared catalog, whose warehouse is PostgreSQL). */
  checkpoints(): CheckpointStats | undefined;
  /** Catches up with the commits of other processes (a shared catalog), views and followers included; nothing to do embedded. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The names people may query: the project's tables and views, not Tributary's own. */
export async function queryableTables(engine: Engine): Promise<Set<string>> {
  const rows = await engine.query<{ name: string }>(
    `SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND NOT starts_with(table_name, '__')
     UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal AND NOT starts_with(view_name, '__')`,
  );
  return new Set(rows.map((r) => r.name.toLowerCase()));
}

export async function openWorkspace(project: Project, options: { onSyncError?: (error: Error) => void } = {}): Promise<Workspace> {
  makeFolder(project.stateDir, 'the state folder', 'give --data-dir (or the config’s state) a folder that can be written; it is made if missing');
  const shared = project.catalogUrl ? new SharedCatalog(project.catalogUrl) : undefined;
  // A lake folder other processes write too (a shared catalog) keeps what they stage, for a grace period.
  const storage: LakeStorage = parseS3Url(project.lakeLocation) ? new S3LakeStorage(project.lakeLocation) : new LocalLakeStorage(project.lakeLocation, { shared: Boolean(shared) });
  // A shared catalog keeps the warehouse in PostgreSQL; this process's own views need no file.
  const warehouseFile = shared ? undefined : (project.warehouseFile ?? path.join(project.stateDir, 'warehouse.duckdb'));
  const engine = await Engine.open({
    path: warehouseFile ?? ':memory:',
    threads: project.config.engine?.threads,
    memoryLimit: project.config.engine?.memoryLimit,
    rowGroupSize: project.config.engine?.rowGroupSize,
    tempDirectory: path.join(project.stateDir, 'spill'),
  });
  let stopListening: (() => Promise<void>) | undefined;
  try {
    // The lake's views are read as soon as the state opens: an object store's credentials come first.
    await storage.open(engine);
    // Macros live beside the views this process derives (a shared catalog's database holds none).
    if (project.config.macros && shared) await engine.run(project.readText(project.config.macros, 'macros'));
    if (shared) await shared.attach(engine);
    const metastore = await Metastore.open(await engine.fork(), { shared });
    if (shared) await refuseAnotherLake(metastore, storage, shared);
    if (project.config.macros && !shared) await engine.run(project.readText(project.config.macros, 'macros'));
    const lake = new Lake(metastore, storage, {
      compression: project.config.lakeCompression,
      parquetVersion: project.config.lakeParquetVersion,
      historyHours: project.config.lakeHistoryHours,
      sharedReaders: Boolean(shared),
    });
    // Taking ownership: what a killed process left behind is finished or cleaned up first.
    await metastore.failOrphanRuns();
    await lake.recover();
    const relations = new Relations(await engine.fork(), metastore, lake);
    await relations.refresh();
    metastore.followCommits(async (committed) => void (await relations.refresh(committed.tables)));
    const checkpointer = warehouseFile ? new Checkpointer(await engine.fork(), `${warehouseFile}.wal`) : undefined;
    if (checkpointer) metastore.onCommit(() => checkpointer.afterCommit());
    const sync = async () => void (await metastore.sync());
    // A sync that close() interrupted is no error of the catalog's.
    let closing = false;
    stopListening = shared?.listen(
      () => void sync().catch((error: Error) => closing || options.onSyncError?.(error)),
      (error) => closing || options.onSyncError?.(error),
    );
    const parser = await engine.fork();
    const policy = new ReadOnlyPolicy(parser, () => queryableTables(parser));
    const stores = new Map<string, Store>();
    const make = (view: Project): Workspace => ({
      project: view,
      engine,
      metastore,
      lake,
      policy,
      store(config, field) {
        const key = JSON.stringify(config);
        let store = stores.get(key);
        if (!store) stores.set(key, (store = openStore(view.components.stores, config, { metastore, lake, field })));
        return store;
      },
      withProject: (other) => make(other),
      shared,
      checkpoints: () => checkpointer?.stats(),
      sync,
      // The state's lock goes first (another process may open it next), before the first await
      // when nothing runs; connections to other stores after.
      async close() {
        closing = true;
        const listening = stopListening?.();
        const engineClosed = engine.closeAll();
        await listening;
        await engineClosed;
        // Retired files waited for statements the close has now ended: they leave before the process does.
        await lake.removalsDone();
        for (const store of stores.values()) await store.close();
        stores.clear();
      },
    });
    return make(project);
  } catch (error) {
    await stopListening?.();
    await engine.closeAll();
    throw error;
  }
}

/**
 * Every process of a project must read and write one lake: a catalog whose lake tables live
 * elsewhere than this process's lake would show files this process cannot read, and its commits
 * would reference files the others cannot.
 */
async function refuseAnotherLake(metastore: Metastore, storage: LakeStorage, shared: SharedCatalog): Promise<void> {
  const lakeTable = (await metastore.tables()).find((table) => table.kind === 'lake' && table.location);
  if (!lakeTable || lakeTable.location === storage.readPath(lakeTable.name)) return;
  const theirs = lakeTable.location!.slice(0, lakeTable.location!.length - lakeTable.name.length).replace(/[\\/]$/, '');
  throw new TributaryError(`the shared catalog at ${shared.shown} keeps its lake at ${theirs}, and this process's lake is ${storage.location}`, {
    hint: `every process of a project shares one lake: set TRIBUTARY_LAKE=${theirs} (an S3 bucket, or a folder every process reaches)`,
  });
}
