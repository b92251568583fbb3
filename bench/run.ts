/**
 * The project's benchmarks: `npm run bench` runs every suite, `npm run bench -- batch` only the
 * named ones. Each suite writes bench/results/<suite>.md, .svg and .json.
 *
 * Environment: BENCH_ROWS=N runs on a smaller generated file (results go to <suite>-<N>.*),
 * BENCH_PEERS=a,b runs only those peers, BENCH_KEEP=1 keeps each peer's output folder.
 * TRIBUTARY_EXTENSIONS defaults to .duckdb-extensions (made by `bash .ci/duckdb-extensions.sh`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchSuite } from './suites/batch.js';
import { concurrentSuite } from './suites/concurrent.js';
import { dbtSuite } from './suites/dbt.js';
import { ducklakeSuite } from './suites/ducklake.js';
import { dashboardsSuite } from './suites/dashboards.js';
import { loadProfileSuite } from './suites/load-profile.js';
import { loyaltySuite } from './suites/loyalty.js';
import { modelsSuite } from './suites/models.js';
import { retailSuite } from './suites/retail.js';
import { retailStreamSuite } from './suites/retail-stream.js';
import { scaleSuite } from './suites/scale.js';
import { schedulerSuite } from './suites/scheduler.js';
import { segmentSuite } from './suites/segment.js';
import { streamSuite } from './suites/stream.js';
import { EXTENSIONS_ENV } from '../src/engine/extensions.js';
import { commitMeasured } from './lib/machine.js';
import type { Suite } from './lib/suite.js';

const suites: Suite[] = [batchSuite, streamSuite, dashboardsSuite, schedulerSuite, loyaltySuite, retailSuite, retailStreamSuite, segmentSuite, concurrentSuite, modelsSuite, ducklakeSuite, scaleSuite, dbtSuite, loadProfileSuite];

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = requested.filter((name) => !suites.some((s) => s.name === name));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${suites.map((s) => `${s.name} (${s.description})`).join(', ')}`);
  process.exit(2);
}
const selected = requested.length ? suites.filter((s) => requested.includes(s.name)) : suites;

commitMeasured();
const started = Date.now();
const log = (line: string) => {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  console.log(`[${t}s] ${line}`);
};
// DuckDB's own extensions (postgres, httpfs, ducklake) where .ci/duckdb-extensions.sh unpacks them, as the tests find them.
const extensions = join(root, '.duckdb-extensions');
if (!process.env[EXTENSIONS_ENV] && existsSync(extensions)) process.env[EXTENSIONS_ENV] = extensions;
const dataDir = join(root, 'bench', 'data');
const resultsDir = join(root, 'bench', 'results');
mkdirSync(dataDir, { recursive: true });
mkdirSync(resultsDir, { recursive: true });

for (const suite of selected) {
  log(`suite ${suite.name}: ${suite.description}`);
  await suite.run({ root, dataDir, resultsDir, log });
}
log('done');
