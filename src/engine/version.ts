import { createRequire } from 'node:module';

/**
 * The embedded DuckDB's version, e.g. v1.5.6. Apart from the engine, which loads the library as
 * its module is imported: `tributary --version` loads it only when asked.
 */
export function engineVersion(): string {
  return (createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api')).version();
}
