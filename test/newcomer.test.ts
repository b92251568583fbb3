import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, tempDir } from './helpers.js';
import { ensureBuilt, run, shipped } from './support/shipped-cli.js';

/**
 * Issue 7, item 14: the path a newcomer takes, with what users run: the shipped CLI
 * (`bin/tributary.js`, which runs the build in dist/), in folders outside this repository.
 */

beforeAll(() => {
  // The shipped CLI runs dist/: build it when the sources are newer, as `npm install` would have.
  ensureBuilt();
  // Outside the repository, so nothing of it is found by walking up from the project.
  expect(path.relative(REPO, tmpdir()).startsWith('..')).toBe(true);
}, 600_000);

/** daily_revenue as the scaffold's orders file implies it: rows with amount >= 0, by day. */
function expectedRevenue(csv: string) {
  const byDay = new Map<string, { orders: number; cents: number }>();
  for (const line of csv.trim().split('\n').slice(1)) {
    const [, orderedAt, , amount] = line.split(',');
    const cents = Math.round(Number(amount) * 100);
    if (cents < 0) continue; // the scaffold's rule: amount >= 0, else quarantined
    const day = orderedAt!.slice(0, 10);
    const entry = byDay.get(day) ?? { orders: 0, cents: 0 };
    entry.orders++;
    entry.cents += cents;
    byDay.set(day, entry);
  }
  return [...byDay].map(([day, e]) => ({ day, orders: String(e.orders), revenue: (e.cents / 100).toFixed(2) }));
}

describe('14. a newcomer’s first project', () => {
  it('`tributary init` outside the repository, then `npm install`, `npx tributary run` and `npx tributary sql` work with the shipped CLI', () => {
    const parent = tempDir('tributary-newcomer-');
    const init = shipped(['init', 'my-project'], parent);
    expect(init.code, init.stderr).toBe(0);
    const dir = path.join(parent, 'my-project');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: string; dependencies: Record<string, string> };
    expect(pkg).toMatchObject({ type: 'module', dependencies: { tributary: `file:${REPO}` } });

    // The package is this repository, linked; its build is the one every test runs (its prepare
    // script would delete dist/ under the CLI of the tests running beside this one).
    const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], dir);
    expect(install.code, install.stderr).toBe(0);
    // npx finds the shipped CLI of the installed package, not a copy from source.
    expect(realpathSync(path.join(dir, 'node_modules', '.bin', 'tributary'))).toBe(CLI);

    const load = run('npx', ['tributary', 'run', '--quiet'], dir);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stderr).toMatch(/✔ orders \(lake\) in [\d.]+s: read 5, wrote 4, quarantined 1/);
    expect(load.stderr).toMatch(/✔ daily_revenue \(table\)/);

    const query = run('npx', ['tributary', 'sql', 'SELECT day::VARCHAR AS day, orders::VARCHAR AS orders, revenue::VARCHAR AS revenue FROM daily_revenue ORDER BY day', '--format', 'json'], dir);
    expect(query.code, query.stderr).toBe(0);
    expect(JSON.parse(query.stdout)).toEqual(expectedRevenue(readFileSync(path.join(dir, 'data', 'orders.csv'), 'utf8')));
  }, 600_000);

  it('a project folder whose package.json has no "type": "module" loads, with a TypeScript config or a CommonJS one', () => {
    const dir = path.join(tempDir('tributary-commonjs-'), 'legacy');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'legacy', private: true }, null, 2)}\n`);
    expect(shipped(['init', '.'], dir).code).toBe(0);
    // init keeps the package.json it found.
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))).toEqual({ name: 'legacy', private: true });
    const typescript = shipped(['run', '--quiet'], dir);
    expect(typescript.code, typescript.stderr).toBe(0);
    expect(typescript.stderr).toMatch(/✔ orders \(lake\)/);

    rmSync(path.join(dir, 'tributary.config.ts'));
    writeFileSync(
      path.join(dir, 'tributary.config.js'),
      `const { defineProject } = require('tributary');

module.exports = defineProject({
  name: 'legacy',
  sources: { orders: { format: 'csv', path: 'data/orders*.csv' } },
  models: { orders_table: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table' } },
});
`,
    );
    const commonjs = shipped(['run', '--quiet'], dir);
    expect(commonjs.code, commonjs.stderr).toBe(0);
    expect(commonjs.stderr).toMatch(/✔ orders_table \(table\) in [\d.]+s: read 5, wrote 5, quarantined 0/);
  }, 300_000);

  it('a config importing a package that is not installed fails naming that package and how to install it, not a TypeScript error', () => {
    const parent = tempDir('tributary-missing-');
    expect(shipped(['init', 'project'], parent).code).toBe(0);
    const dir = path.join(parent, 'project');
    const config = path.join(dir, 'tributary.config.ts');
    writeFileSync(config, readFileSync(config, 'utf8').replace(`import { defineProject } from 'tributary';`, `import { defineProject } from 'tributary';\nimport { slugify } from 'slugify-not-installed';\nvoid slugify;`));
    const result = shipped(['run', '--quiet'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/slugify-not-installed/);
    expect(result.stderr).toMatch(/npm install slugify-not-installed/);
    expect(result.stderr).not.toMatch(/TypeScript error/);
    expect(result.stderr).not.toMatch(/Cannot find (module|package) 'tributary'/);
  }, 300_000);

  it('a config that refuses to load with Tributary’s own error is heard in its words: the class it imports is the running package’s, ES module or CommonJS', () => {
    const parent = tempDir('tributary-refusing-');
    expect(shipped(['init', 'project'], parent).code).toBe(0);
    const dir = path.join(parent, 'project');
    const config = path.join(dir, 'tributary.config.ts');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        `import { defineProject } from 'tributary';`,
        `import { defineProject, TributaryError } from 'tributary';\nif (!process.env.SHOP_WAREHOUSE) throw new TributaryError('SHOP_WAREHOUSE is not set', { hint: 'export SHOP_WAREHOUSE=postgres://…, then run again' });`,
      ),
    );
    const refused = shipped(['ls'], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${config}: SHOP_WAREHOUSE is not set\n  → export SHOP_WAREHOUSE=postgres://…, then run again`);
    expect(refused.stderr).not.toMatch(/could not be loaded/);
    // A name the package does not export is answered with the names it does.
    writeFileSync(config, readFileSync(config, 'utf8').replace('defineProject, TributaryError }', 'defineProject, TributaryError, defineWidget }').replace('if (!process.env', 'void defineWidget;\nif (!process.env'));
    const misnamed = shipped(['ls'], dir);
    expect(misnamed.code).toBe(1);
    expect(misnamed.stderr).toMatch(/does not provide an export named 'defineWidget'\n  → Tributary [\d.]+ exports .*defineDashboard, .*defineProject, .*: fix the name 'defineWidget'/);

    const legacy = path.join(tempDir('tributary-refusing-cjs-'), 'legacy');
    mkdirSync(legacy);
    writeFileSync(path.join(legacy, 'package.json'), `${JSON.stringify({ name: 'legacy', private: true })}\n`);
    writeFileSync(
      path.join(legacy, 'tributary.config.js'),
      `const { TributaryError } = require('tributary');\nthrow new TributaryError('LEGACY_BUCKET is not set', { hint: 'export LEGACY_BUCKET=s3://…' });\n`,
    );
    const refusedCommonJs = shipped(['ls'], legacy);
    expect(refusedCommonJs.code).toBe(1);
    expect(refusedCommonJs.stderr).toContain('LEGACY_BUCKET is not set\n  → export LEGACY_BUCKET=s3://…');
  }, 300_000);
});
