import path from 'node:path';
import { Engine, EXTENSIONS_ENV, type ExtensionName } from '../../src/engine/index.js';
import { REPO } from '../helpers.js';
import { requireService } from '../services.js';

/** Where .ci/duckdb-extensions.sh unpacks DuckDB's extensions, unless the environment says otherwise. */
export const EXTENSIONS = process.env[EXTENSIONS_ENV] ?? path.join(REPO, '.duckdb-extensions');

/** True when DuckDB loads the extension (skips loudly otherwise; fails under CI). */
export function requireExtension(name: ExtensionName): Promise<boolean> {
  return requireService(`DuckDB's ${name} extension (bash .ci/duckdb-extensions.sh)`, async () => {
    process.env[EXTENSIONS_ENV] = EXTENSIONS;
    const engine = await Engine.open();
    try {
      await engine.load(name);
    } finally {
      engine.close();
    }
  });
}
