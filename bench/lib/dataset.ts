import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateEcommerce, NOVEMBER_2019 } from '../../examples/ecommerce-clickstream/generators/ecommerce.js';

export interface Dataset {
  file: string;
  rows: number;
  bytes: number;
  seed: number;
  /** Seconds the generator took, or null when an existing file was reused. */
  generatedSeconds: number | null;
}

interface Manifest {
  rows: number;
  bytes: number;
  seed: number;
  generator: string;
  seconds: number;
}

const GENERATOR = 'ecommerce/1';

/** Number of rows for this run: BENCH_ROWS, or the full November file. */
export function benchRows(): number {
  const value = process.env.BENCH_ROWS;
  if (!value) return NOVEMBER_2019.rows;
  const rows = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(rows) || rows <= 0) throw new Error(`BENCH_ROWS must be a positive integer, got '${value}'`);
  return rows;
}

/**
 * The generated clickstream file for `rows`, made once and reused: a manifest beside it records
 * the row count, size and seed it was made with, so a partial or different file is never reused.
 */
export async function ensureEcommerceFile(options: { dataDir: string; rows: number; samplePath: string; seed?: number; log: (line: string) => void }): Promise<Dataset> {
  const seed = options.seed ?? 42;
  const file = join(options.dataDir, `ecommerce-${options.rows}-seed${seed}.csv`);
  const manifestFile = `${file}.json`;
  if (existsSync(file) && existsSync(manifestFile)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    const bytes = statSync(file).size;
    if (manifest.rows === options.rows && manifest.bytes === bytes && manifest.seed === seed && manifest.generator === GENERATOR) {
      options.log(`data: reusing ${file} (${options.rows.toLocaleString('en-US')} rows, ${(bytes / 1e9).toFixed(2)} GB)`);
      return { file, rows: options.rows, bytes, seed, generatedSeconds: null };
    }
  }
  options.log(`data: generating ${options.rows.toLocaleString('en-US')} rows into ${file}`);
  let lastLog = 0;
  const result = await generateEcommerce({
    rows: options.rows,
    out: file,
    samplePath: options.samplePath,
    seed,
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastLog < 5000) return;
      lastLog = now;
      options.log(`  generating … ${(p.fraction * 100).toFixed(0)} %, ${p.rows.toLocaleString('en-US')} rows, ${(p.bytes / 1e9).toFixed(2)} GB written`);
    },
  });
  const manifest: Manifest = { rows: result.rows, bytes: result.bytes, seed, generator: GENERATOR, seconds: result.seconds };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  options.log(
    `data: generated ${result.rows.toLocaleString('en-US')} rows, ${(result.bytes / 1e9).toFixed(2)} GB in ${result.seconds.toFixed(1)} s ` +
      `(${(result.rows / result.seconds / 1e6).toFixed(2)} M rows/s, ${(result.bytes / 1e6 / result.seconds).toFixed(0)} MB/s)`,
  );
  return { file, rows: result.rows, bytes: result.bytes, seed, generatedSeconds: result.seconds };
}
