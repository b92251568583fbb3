import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';

/**
 * The repository holds everything it runs: each example's data lives in the example, and its
 * DATA.md states the exact size and checksum, which this test recomputes the way DATA.md says.
 */

const EXAMPLES = readdirSync(path.join(REPO, 'examples')).filter((d) => statSync(path.join(REPO, 'examples', d)).isDirectory());

/** Files of a folder that the repository carries (tracked, or new and not ignored), relative to it. */
function carried(dir: string): string[] {
  return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', dir], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
    .map((f) => path.relative(dir, path.join(REPO, f)));
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('each example carries its data', () => {
  it.each(EXAMPLES)('%s: DATA.md gives the files, bytes and digest of data/, and they hold', (example) => {
    const dir = path.join(REPO, 'examples', example, 'data');
    const stated = readFileSync(path.join(REPO, 'examples', example, 'DATA.md'), 'utf8');
    const files = carried(dir).sort((a, b) => Buffer.compare(Buffer.from(`./${a}`), Buffer.from(`./${b}`)));
    expect(files.length).toBeGreaterThan(0);
    const listing = files.map((f) => `${sha256(readFileSync(path.join(dir, f)))}  ./${f}\n`).join('');
    const bytes = files.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
    expect(stated).toContain(`files: ${files.length}\n`);
    expect(stated).toContain(`bytes: ${bytes}\n`);
    expect(stated).toContain(`folder digest: ${sha256(listing)}\n`);
  });

  it('no file of the project reads from outside the repository', () => {
    const grep = spawnSync('git', ['grep', '--untracked', '-n', '-E', String.raw`\.\./shared|shared/data`, '--', '.', ':!test/data.test.ts'], { cwd: REPO, encoding: 'utf8' });
    expect(grep.status, grep.stderr).toBe(1); // git grep: 1 is "nothing found"
    expect(grep.stdout).toBe('');
  });
});
