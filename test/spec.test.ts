import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../src/core/errors.js';
import { REPO, runProject, tempDir } from './helpers.js';

/**
 * The specification, one folder a case (as DuckDB's sqllogictests): `test/spec/<case>/` holds a
 * tiny project (tributary.config.ts and its input files) and what must come out of
 * `tributary run`: `expected/<table>.csv` for each table (its rows in order, as CSV), and
 * `expected/quarantine.csv` (file, line, record, column, reason of each quarantined row), or
 * `expected/error.txt` when the run must fail (a regular expression its message must match).
 */
const SPEC = path.join(REPO, 'test', 'spec');

function csv(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n');
}

const expectedFile = (dir: string, name: string) => readFileSync(path.join(dir, 'expected', name), 'utf8').replace(/\r\n/g, '\n').trimEnd();

describe('specification', () => {
  for (const name of readdirSync(SPEC).sort()) {
    const dir = path.join(SPEC, name);
    it(name.replace(/-/g, ' '), async () => {
      const errorPath = path.join(dir, 'expected', 'error.txt');
      let outcome: Awaited<ReturnType<typeof runProject>> | undefined;
      let failure: unknown;
      try {
        outcome = await runProject(dir, { dataDir: tempDir() });
      } catch (error) {
        failure = error;
      }
      if (existsSync(errorPath)) {
        expect(failure, 'the run must fail').toBeDefined();
        expect(errorMessage(failure)).toMatch(new RegExp(expectedFile(dir, 'error.txt')));
        return;
      }
      if (failure) throw failure;
      const { ws } = outcome!;
      try {
        for (const file of readdirSync(path.join(dir, 'expected')).filter((f) => f.endsWith('.csv'))) {
          const expected = expectedFile(dir, file);
          const columns = expected.split('\n')[0]!.split(',');
          if (file === 'quarantine.csv') {
            const rows = (await ws.metastore.quarantine({ limit: 10_000 })).map((r) => ({ ...r, file: r.file ? path.basename(r.file) : null, column: r.column_name }));
            rows.sort((a, b) => String(a.file).localeCompare(String(b.file)) || (a.line ?? a.record ?? 0) - (b.line ?? b.record ?? 0));
            expect(csv(rows, columns), `${name}/expected/${file}`).toBe(expected);
          } else {
            const table = file.slice(0, -4);
            const rows = await ws.engine.queryJson(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY ALL`);
            expect(csv(rows, columns), `${name}/expected/${file}`).toBe(expected);
          }
        }
      } finally {
        await ws.close();
      }
    });
  }
});
