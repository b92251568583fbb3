import path from 'node:path';
import { Metastore, DuckDBSchedulerStore } from '../src/catalog/index.js';
import { Engine } from '../src/engine/index.js';
import { describeSchedulerStoreContract } from '../src/scheduler/store-contract.js';
import { tempDir } from './helpers.js';

// The metastore-backed store passes the same contract as the reference (memory) store.
describeSchedulerStoreContract('DuckDBSchedulerStore', async () => {
  const engine = await Engine.open({ path: path.join(tempDir(), 'w.duckdb') });
  return DuckDBSchedulerStore.open(await Metastore.open(engine));
});
