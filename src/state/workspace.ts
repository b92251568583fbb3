import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Metastore } from '../catalog/index.js';
import { openStore, type Store, type StoreConfig } from '../connectors/index.js';
import type { Project } from '../config/project.js';
import { Engine, ReadOnlyPolicy } from '../engine/index.js';
import { Lake, LocalLakeStorage, S3LakeStorage, parseS3Url, type LakeStorage } from '../lake/index.js';

/**
 * A project's live state, owned by one process: the engine on its warehouse, the metastore, the
 * lake and the stores it writes to. Other processes reach it through that process (see the
 * server's command endpoint); this is what the owner holds.
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

export async function openWorkspace(project: Project): Promise<Workspace> {
  mkdirSync(project.stateDir, { recursive: true });
  const storage: LakeStorage = parseS3Url(project.lakeLocation) ? new S3LakeStorage(project.lakeLocation) : new LocalLakeStorage(project.lakeLocation);
  const engine = await Engine.open({
    path: project.warehouseFile ?? path.join(project.stateDir, 'warehouse.duckdb'),
    threads: project.config.engine?.threads,
    memoryLimit: project.config.engine?.memoryLimit,
    tempDirectory: path.join(project.stateDir, 'spill'),
  });
  try {
    // The lake's views are read as soon as the state opens: an object store's credentials come first.
    await storage.open(engine);
    const metastore = await Metastore.open(await engine.fork());
    if (project.config.macros) await engine.run(project.readText(project.config.macros, 'macros'));
    const lake = new Lake(metastore, storage, {
      compression: project.config.lakeCompression,
      parquetVersion: project.config.lakeParquetVersion,
      historyHours: project.config.lakeHistoryHours,
    });
    // Taking ownership: what a killed process left behind is finished or cleaned up first.
    await metastore.failOrphanRuns();
    await lake.recover();
    await lake.refreshViews(engine);
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
      // The state's lock goes at once (another process may open it next); connections to other stores after.
      async close() {
        engine.closeAll();
        for (const store of stores.values()) await store.close();
        stores.clear();
      },
    });
    return make(project);
  } catch (error) {
    engine.closeAll();
    throw error;
  }
}
