import { homedir } from 'node:os';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';

/**
 * DuckDB's own extensions (httpfs for the lake on S3, postgres for a catalog in PostgreSQL, iceberg):
 * Tributary loads them when a project's configuration needs them, never otherwise, and never
 * downloads one while it runs. They come from `tributary extensions install` (DuckDB's signed
 * builds, downloaded once), or from a folder in DuckDB's layout that TRIBUTARY_EXTENSIONS names
 * (`<dir>/v1.5.5/linux_amd64/httpfs.duckdb_extension`: what `.ci/duckdb-extensions.sh` makes from
 * PyPI's wheels, for machines without DuckDB's repository).
 */
export const EXTENSIONS_ENV = 'TRIBUTARY_EXTENSIONS';

/** The extensions Tributary may load: what each is for, and the file DuckDB loads it from. */
export const EXTENSIONS = {
  httpfs: { for: 'a lake on S3-compatible object storage', file: 'httpfs' },
  postgres: { for: 'a catalog in PostgreSQL', file: 'postgres_scanner' },
  iceberg: { for: 'reading Iceberg tables', file: 'iceberg' },
  avro: { for: 'Iceberg manifests (iceberg needs it)', file: 'avro' },
} as const;

export type ExtensionName = keyof typeof EXTENSIONS;

/** Where DuckDB looks for extensions: TRIBUTARY_EXTENSIONS, else DuckDB's own default. */
export function extensionDirectory(): string {
  return process.env[EXTENSIONS_ENV] || path.join(homedir(), '.duckdb', 'extensions');
}

/** The error for an extension that is not there, saying how to get it. */
export function missingExtension(name: ExtensionName, engineVersion: string, platform: string, cause: unknown): TributaryError {
  const dir = extensionDirectory();
  return new TributaryError(`${EXTENSIONS[name].for} needs DuckDB's ${name} extension, which is not installed for DuckDB ${engineVersion} (${platform}) in ${dir}`, {
    hint: `run \`tributary extensions install\` (downloads DuckDB's signed extensions once), or set ${EXTENSIONS_ENV} to a folder holding ${engineVersion}/${platform}/${EXTENSIONS[name].file}.duckdb_extension (bash .ci/duckdb-extensions.sh makes one from PyPI)`,
    cause,
  });
}
