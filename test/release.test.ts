import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';
import { ensureBuilt, run } from './support/shipped-cli.js';
import { dashboardTiles, startCommand } from './support/live-command.js';

/**
 * The package a user installs: `npm pack`, then the tarball installed into an empty folder with
 * no repository above it, and there what the README tells a user to run. `npm run release:check`
 * runs this file before a release.
 */

const own = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
let tarball: string;
let files: string[];
let user: string;

beforeAll(() => {
  expect(path.relative(REPO, tmpdir()).startsWith('..')).toBe(true);
  const packed = tempDir('tributary-pack-');
  // dist/ is the build every test runs (test/global-setup.ts, which builds it as the prepare
  // script would); the prepare script is not run again here, since it would delete dist/ under the
  // CLI of every test running beside this one.
  ensureBuilt();
  const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', packed, '--json'], REPO);
  expect(pack.code, pack.stderr).toBe(0);
  const [packInfo] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string }[];
  tarball = path.join(packed, packInfo!.filename);
  files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
  user = path.join(tempDir('tributary-user-'), 'app');
  mkdirSync(user);
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], user);
  expect(install.code, install.stderr).toBe(0);
}, 900_000);

const npx = (args: string[], cwd: string) => run('npx', ['--no-install', 'tributary', ...args], cwd);

describe('the package npm pack makes', () => {
  it('carries the build, the CLI, the type declarations, the web UI and the demo’s example with its data, and nothing for development only', () => {
    for (const needed of ['bin/tributary.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/web/app.js', 'dist/web/index.html', 'README.md', 'CHANGELOG.md', 'LICENSE', 'examples/ecommerce-clickstream/tributary.config.ts', 'examples/ecommerce-clickstream/data/2019-Nov-sample.csv', 'examples/sparkify/data/log_data/2018/11/2018-11-05-events.json']) {
      expect(files, needed).toContain(needed);
    }
    const development = files.filter((f) => /^(src|test|bench|docs|\.ci)\//.test(f) || /^examples\/[^/]+\/(test|lake|\.tributary)\//.test(f) || /\.map$/.test(f) || /\.test\.js$/.test(f));
    expect(development).toEqual([]);
    // Beside the build, only what the repository holds: a file a running example or a test made in
    // the working tree (a lock, a log) would ship, and would be named here.
    const tracked = new Set(execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0'));
    expect(files.filter((f) => !f.startsWith('dist/') && !tracked.has(f))).toEqual([]);
  });

  it('is the size and the number of files the README says, with the template `tributary init` writes', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const [, megabytes, count] = /`npm pack` makes the package a user installs \(([\d.]+) MB, ([\d,]+) files/.exec(readme) ?? [];
    expect(files.length).toBe(Number(count!.replaceAll(',', '')));
    expect((statSync(tarball).size / 1e6).toFixed(1)).toBe(megabytes);
    for (const template of ['templates/init/tributary.config.ts', 'templates/init/dashboards/sales.ts', 'templates/init/gitignore']) expect(files).toContain(template);
  });

  it('installed from the tarball, `tributary --help` and `--version` answer: the package’s version and its DuckDB', () => {
    const help = npx(['--help'], user);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: tributary/);
    const version = npx(['--version'], user);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(new RegExp(`^tributary ${own.version.replace(/\./g, '\\.')} \\(DuckDB v\\d+\\.\\d+\\.\\d+\\)$`));
  });

  it('`tributary init` writes a project that depends on a version range of the registry’s package, and `tributary run` loads it', () => {
    const init = npx(['init', 'shop'], user);
    expect(init.code, init.stderr).toBe(0);
    const shop = path.join(user, 'shop');
    const pkg = JSON.parse(readFileSync(path.join(shop, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies).toEqual({ tributary: `npm:${own.name}@^${own.version}` });
    const load = npx(['run', '--quiet'], shop);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stderr).toMatch(/✔ orders \(lake\) in [\d.]+s: read 5, wrote 4, quarantined 1/);
    const revenue = npx(['sql', 'SELECT count(*)::INTEGER AS days, sum(orders)::INTEGER AS orders FROM daily_revenue', '--format', 'json'], shop);
    expect(revenue.code, revenue.stderr).toBe(0);
    expect(JSON.parse(revenue.stdout)).toEqual([{ days: 3, orders: 4 }]);
  });

  it('`tributary demo` runs its example from a copy outside node_modules and serves the dashboard with the sample’s numbers', async () => {
    const home = tempDir('tributary-home-');
    const demo = startCommand('npx', ['--no-install', 'tributary', 'demo', '--port', '0'], { cwd: user, env: { TRIBUTARY_HOME: home, TRIBUTARY_TOKEN: '' } });
    try {
      const [, url] = await demo.waitFor(/demo is live: (http:\/\/\S+)/);
      expect(demo.output()).toContain(`files and data are in ${path.join(home, 'demos', 'ecommerce-clickstream')}`);
      const page = await fetch(url!);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script[^>]+app\.js/);
      const tiles = (await dashboardTiles(url!)).get('clickstream')!;
      const batchOperations = tiles.find((t) => t.id === 'operations');
      expect(batchOperations?.rows).toEqual([{ value: '10034' }]); // BIGINT travels as text in JSON
    } finally {
      await demo.stop();
    }
    // Nothing was written inside the installed package.
    const example = path.join(user, 'node_modules', own.name, 'examples', 'ecommerce-clickstream');
    expect(existsSync(path.join(example, '.tributary')) || existsSync(path.join(example, 'lake'))).toBe(false);
  });
});
