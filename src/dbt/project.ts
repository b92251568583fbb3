import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';

/**
 * A dbt project folder as dbt reads it: `dbt_project.yml`, `profiles.yml`, the SQL and YAML under
 * its paths, its macros and the packages shipped under `dbt_packages/`. Nothing here renders
 * Jinja or touches the engine: this is the folder, read and checked.
 */

export const DBT_PROJECT_FILE = 'dbt_project.yml';

/** Folder configs (`+materialized`, `+tags`…) as dbt merges them: the nearest folder wins, tags add up. */
export interface NodeConfig {
  materialized?: string;
  tags: string[];
  schema?: string;
  enabled?: boolean;
  incremental_strategy?: string;
  unique_key?: string | string[];
  column_types?: Record<string, string>;
  [key: string]: unknown;
}

export interface DbtModelFile {
  name: string;
  /** Relative to the project folder. */
  file: string;
  text: string;
  package: string;
  config: NodeConfig;
}

/** A snapshot: a `{% snapshot %}` block of a SQL file, or a `snapshots:` entry of YAML naming its relation. */
export interface DbtSnapshotFile {
  name: string;
  file: string;
  /** The block's SQL (Jinja), or `select * from {{ relation }}` for a YAML snapshot. */
  text: string;
  package: string;
  config: NodeConfig;
}

export interface DbtSeedFile {
  name: string;
  file: string;
  config: NodeConfig;
}

export interface DbtSourceTable {
  source: string;
  table: string;
  /** The relation's name in the database (`identifier:`), else the table's name. */
  identifier: string;
  schema?: string;
  /** dbt-duckdb's `meta.external_location`: a file the source reads, `{name}` standing for the table. */
  externalLocation?: string;
  /** dbt's source freshness: how old its newest row may be, in seconds, before a warning or an error. */
  freshness?: { warnAfter?: number; errorAfter?: number };
  /** The column (or SQL expression) holding when a row was loaded. */
  loadedAtField?: string;
  /** SQL narrowing the rows the freshness check reads. */
  freshnessFilter?: string;
  file: string;
}

/** A generic test as `schema.yml` declares it on a model's column (or on the model). */
export interface DbtTestDeclaration {
  test: string;
  /** The package a namespaced test names (`dbt_utils.expression_is_true`). */
  package?: string;
  model: string;
  column?: string;
  args: Record<string, unknown>;
  severity: 'error' | 'warn';
  where?: string;
  warnIf: string;
  errorIf: string;
  /** What counts its failures (dbt's fail_calc), when its config says; a test's macro may set its own. */
  failCalc?: string;
  /** A template that says whether the test is on (`"{{ target.type in ['bigquery'] }}"`), rendered before the test is made. */
  enabledWhen?: string;
  /** Its failing rows kept in a table of the audit schema (dbt's store_failures); undefined: the project's default. */
  storeFailures?: boolean;
  file: string;
}

export interface DbtSingularTest {
  name: string;
  file: string;
  text: string;
}

/**
 * Rows a unit test gives a model's input or expects of its output: a list of mappings (`dict`,
 * dbt's default), CSV text, or a query (`sql`), written inline or in a fixture file.
 */
export type DbtFixtureRows = { format: 'dict'; rows: Record<string, unknown>[] } | { format: 'csv'; text: string } | { format: 'sql'; text: string };

/** A unit test of `schema.yml` (dbt 1.8): a model's SQL over given input rows, whose output must be the expected rows. */
export interface DbtUnitTest {
  name: string;
  model: string;
  /** Each input as the model names it (`ref('stg_orders')`, `source('shop', 'raw')`, `this`) and its rows. */
  given: { input: string; rows: DbtFixtureRows }[];
  expect: DbtFixtureRows;
  /** `overrides:` what the model sees instead of the project's: `macros` (is_incremental), `vars`, `env_vars`. */
  overrides: { macros: Record<string, unknown>; vars: Record<string, unknown>; envVars: Record<string, unknown> };
  file: string;
}

export interface DbtMacroFile {
  package: string;
  file: string;
  text: string;
}

export interface DbtProfileTarget {
  name: string;
  type: string;
  /** The DuckDB file, absolute (`path:` is relative to the project folder). */
  path: string;
  threads?: number;
  schema: string;
}

export interface DbtProjectFiles {
  dir: string;
  name: string;
  projectFile: string;
  vars: Record<string, unknown>;
  /** Each package's own `vars:` (the root project's too): defaults for its nodes' var(). */
  packageVars: Map<string, Record<string, unknown>>;
  models: DbtModelFile[];
  seeds: DbtSeedFile[];
  snapshots: DbtSnapshotFile[];
  sources: DbtSourceTable[];
  tests: DbtTestDeclaration[];
  singularTests: DbtSingularTest[];
  unitTests: DbtUnitTest[];
  macros: DbtMacroFile[];
  /** `on-run-start` and `on-run-end` of dbt_project.yml: SQL (Jinja) run before and after a command's nodes. */
  onRun: { start: string[]; end: string[] };
  /** `data_tests:` (or `tests:`) of dbt_project.yml: whether tests keep their failing rows by default. */
  storeFailures: boolean;
  /** Model descriptions and column descriptions from `schema.yml`. */
  descriptions: Map<string, string>;
  target: DbtProfileTarget;
  warnings: string[];
}

type Yaml = Record<string, unknown>;

const require = createRequire(import.meta.url);

/** YAML text's value; the parser is loaded by the first dbt file or `--vars` read, not by every command (some 20 ms of a CLI's start). */
export function parseYaml(text: string): unknown {
  return (require('yaml') as typeof import('yaml')).parse(text);
}

function readYaml(file: string): Yaml {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new TributaryError(`${path.basename(file)} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { place: { file, line }, hint: 'fix the YAML; dbt would refuse it too' });
  }
  return parsed && typeof parsed === 'object' ? (parsed as Yaml) : {};
}

function listFiles(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, ext));
    else if (entry.name.toLowerCase().endsWith(ext)) out.push(full);
  }
  return out;
}

/**
 * dbt's hooks add up from every level (a folder, YAML, the node's own config()), as `pre_hook` and
 * `post_hook` lists of SQL; each may be text or `{sql: …}`. False when `key` is no hook.
 */
export function addHooks(config: NodeConfig, key: string, value: unknown): boolean {
  const which = /^(pre|post)[-_]hook$/.exec(key)?.[1] as 'pre' | 'post' | undefined;
  if (!which) return false;
  const field = `${which}_hook`;
  const hooks = (Array.isArray(value) ? value : [value]).map((h) => String(h && typeof h === 'object' ? ((h as Yaml).sql ?? '') : (h ?? ''))).filter((h) => h.trim());
  config[field] = [...hooksOf(config, which), ...hooks];
  return true;
}

export const hooksOf = (config: NodeConfig, which: 'pre' | 'post'): string[] => (config[`${which}_hook`] as string[] | undefined) ?? [];

/** A config merged over another, as dbt layers them: tags and hooks add up, other keys are replaced. */
function layered(base: NodeConfig, over: Yaml): NodeConfig {
  const out: NodeConfig = { ...base, tags: [...base.tags] };
  for (const [key, value] of Object.entries(over)) {
    if (key === 'tags') out.tags = [...new Set([...out.tags, ...stringList(value, [])])];
    else if (!addHooks(out, key, value)) out[key] = value;
  }
  return out;
}

function stringList(value: unknown, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  return (Array.isArray(value) ? value : [value]).map(String);
}

/**
 * The config dbt gives a node from `dbt_project.yml`'s `models:`/`seeds:` block: keys with `+`
 * (or dbt's own keys without it) apply to the folder they sit in and below; other keys are folders.
 */
function folderConfig(block: unknown, projectName: string, folders: string[], nodeName: string): NodeConfig {
  let config: NodeConfig = { tags: [] };
  const apply = (level: Yaml) => {
    const own = Object.entries(level).filter(([key]) => key.startsWith('+') || CONFIG_KEYS.has(key));
    config = layered(config, Object.fromEntries(own.map(([key, value]) => [key.replace(/^\+/, ''), value])));
  };
  let level = (block as Yaml | undefined)?.[projectName] as Yaml | undefined;
  if (!level || typeof level !== 'object') return config;
  apply(level);
  for (const folder of [...folders, nodeName]) {
    const next = level[folder];
    if (!next || typeof next !== 'object' || Array.isArray(next)) break;
    level = next as Yaml;
    apply(level);
  }
  return config;
}

/** Config keys dbt reads without a `+` in `dbt_project.yml`. */
const CONFIG_KEYS = new Set([
  'materialized', 'tags', 'schema', 'enabled', 'column_types', 'quote_columns', 'incremental_strategy', 'unique_key', 'alias', 'database', 'full_refresh', 'on_schema_change',
  'pre-hook', 'post-hook', 'store_failures', 'store_failures_as', 'strategy', 'updated_at', 'check_cols', 'target_schema', 'target_database', 'invalidate_hard_deletes', 'hard_deletes', 'dbt_valid_to_current', 'snapshot_meta_column_names',
]);

/** `{% snapshot name %} … {% endsnapshot %}` blocks of a file, with the line each starts at. */
function snapshotBlocks(text: string): { name: string; body: string }[] {
  const blocks: { name: string; body: string }[] = [];
  const pattern = /\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}([\s\S]*?)\{%-?\s*endsnapshot\s*-?%\}/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) blocks.push({ name: match[1]!, body: match[2]! });
  return blocks;
}

function readProfile(dir: string, profileName: string, asked: string | undefined, profilesDir: string | undefined): DbtProfileTarget {
  const candidates = [profilesDir, process.env.DBT_PROFILES_DIR, dir, path.join(process.env.HOME ?? '', '.dbt')].filter((d): d is string => !!d);
  const file = candidates.map((d) => path.join(d, 'profiles.yml')).find((f) => existsSync(f));
  if (!file) {
    throw new TributaryError(`no profiles.yml for profile '${profileName}'`, {
      place: { file: path.join(dir, DBT_PROJECT_FILE) },
      hint: `put a profiles.yml beside dbt_project.yml (or in DBT_PROFILES_DIR, or ~/.dbt) with a duckdb output, e.g. ${profileName}: { target: dev, outputs: { dev: { type: duckdb, path: warehouse.duckdb } } }`,
    });
  }
  const profile = readYaml(file)[profileName] as Yaml | undefined;
  if (!profile) throw new TributaryError(`profiles.yml has no profile '${profileName}' (the profile dbt_project.yml names)`, { place: { file }, hint: 'add it, or correct `profile:` in dbt_project.yml' });
  const outputs = (profile.outputs ?? {}) as Record<string, Yaml>;
  const name = asked ?? (profile.target as string | undefined) ?? Object.keys(outputs)[0];
  const output = name === undefined ? undefined : outputs[name];
  if (!output) {
    throw new TributaryError(`profile '${profileName}' has no target '${String(name)}'`, { place: { file }, hint: `its targets: ${Object.keys(outputs).join(', ') || '(none)'}` });
  }
  if (output.type !== 'duckdb') {
    throw new TributaryError(`target '${name}' of profile '${profileName}' is of type '${String(output.type)}'; Tributary runs dbt projects on DuckDB for now`, {
      place: { file },
      hint: 'add a duckdb output (type: duckdb, path: warehouse.duckdb) and run with --target <it>',
    });
  }
  const dbPath = String(output.path ?? 'warehouse.duckdb');
  if (dbPath === ':memory:' || /^(md|motherduck|s3):/.test(dbPath)) {
    throw new TributaryError(`target '${name}' keeps its database at '${dbPath}'; Tributary needs a DuckDB file`, { place: { file }, hint: 'give the output a file path, e.g. path: warehouse.duckdb' });
  }
  return { name: String(name), type: 'duckdb', path: path.resolve(dir, dbPath), threads: typeof output.threads === 'number' ? output.threads : undefined, schema: String(output.schema ?? 'main') };
}

/** A unit test as `schema.yml` declares it (undefined when disabled); what cannot be a unit test is refused with its place. */
function readUnitTest(spec: Yaml, field: string, file: string, relFile: string, packageDir: string): DbtUnitTest | undefined {
  const place = (sub: string) => ({ file, field: `${field}${sub}` });
  const name = String(spec.name ?? '');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TributaryError(`a unit test needs a name (letters, digits, _)`, { place: place('.name') });
  if (typeof spec.model !== 'string') throw new TributaryError(`unit test '${name}' names no model`, { place: place('.model'), hint: 'add model: <the model it tests>' });
  const rowsOf = (block: unknown, where: string): DbtFixtureRows => {
    const b = (block ?? {}) as Yaml;
    const format = String(b.format ?? 'dict');
    let rows = b.rows;
    if (b.fixture !== undefined) {
      // dbt looks for fixtures in the test paths' fixtures/ folder.
      const extension = format === 'sql' ? '.sql' : '.csv';
      const fixtureFile = path.join(packageDir, 'tests', 'fixtures', `${String(b.fixture)}${extension}`);
      if (!existsSync(fixtureFile)) throw new TributaryError(`unit test '${name}': fixture '${String(b.fixture)}' is not at ${fixtureFile}`, { place: place(where), hint: `put the rows in tests/fixtures/${String(b.fixture)}${extension}` });
      rows = readFileSync(fixtureFile, 'utf8');
    }
    if (format === 'dict') {
      if (rows === undefined || rows === null) return { format, rows: [] };
      if (!Array.isArray(rows) || rows.some((r) => !r || typeof r !== 'object' || Array.isArray(r))) {
        throw new TributaryError(`unit test '${name}': rows must be a list of mappings (column: value)`, { place: place(`${where}.rows`), hint: 'write - {id: 1, name: a}, or set format: csv' });
      }
      // YAML reads a number past 2^53 rounded: a 64-bit id would be compared as another id.
      for (const [index, row] of (rows as Record<string, unknown>[]).entries()) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
            throw new TributaryError(`unit test '${name}': ${column} ${value} is past 2^53, where YAML rounds numbers: it was read as this`, {
              place: place(`${where}.rows[${index}].${column}`),
              hint: "quote it as written (a quoted id is read as the column's type), or give the rows with format: csv",
            });
          }
        }
      }
      return { format, rows: rows as Record<string, unknown>[] };
    }
    if (format === 'csv' || format === 'sql') {
      if (typeof rows !== 'string') throw new TributaryError(`unit test '${name}': ${format} rows must be text`, { place: place(`${where}.rows`), hint: 'write rows: | followed by the lines' });
      return { format, text: rows };
    }
    throw new TributaryError(`unit test '${name}' has format '${format}'`, { place: place(`${where}.format`), hint: 'format may be dict, csv or sql' });
  };
  const given = ((spec.given ?? []) as Yaml[]).map((g, i) => {
    if (typeof g.input !== 'string') throw new TributaryError(`unit test '${name}': given[${i}] names no input`, { place: place(`.given[${i}].input`), hint: "write input: ref('a_model') or source('a', 'b')" });
    return { input: g.input.trim(), rows: rowsOf(g, `.given[${i}]`) };
  });
  if (!spec.expect) throw new TributaryError(`unit test '${name}' expects nothing`, { place: place('.expect'), hint: 'add expect: rows: [...] with the rows the model must output' });
  const overrides = (spec.overrides ?? {}) as Yaml;
  const macros = (overrides.macros ?? {}) as Yaml;
  if ('is_incremental' in macros && typeof macros.is_incremental !== 'boolean') {
    throw new TributaryError(`unit test '${name}': overrides.macros.is_incremental is ${JSON.stringify(macros.is_incremental)}, not true or false`, {
      place: place('.overrides.macros.is_incremental'),
      hint: 'write is_incremental: true (the model reads its given `this`) or false, as dbt requires',
    });
  }
  if (((spec.config ?? {}) as Yaml).enabled === false) return undefined;
  return {
    name,
    model: spec.model,
    given,
    expect: rowsOf(spec.expect, '.expect'),
    overrides: { macros, vars: (overrides.vars ?? {}) as Yaml, envVars: (overrides.env_vars ?? {}) as Yaml },
    file: relFile,
  };
}

/** Generic tests of one column or model, in either spelling dbt accepts (`arguments:` or the arguments beside `config:`). */
function readTests(list: unknown, model: string, column: string | undefined, file: string, out: DbtTestDeclaration[]): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    const [name, body] = typeof item === 'string' ? [item, {}] : (Object.entries(item as Yaml)[0] ?? []);
    if (typeof name !== 'string') continue;
    const spec = (body ?? {}) as Yaml;
    const config = { ...((spec.config ?? {}) as Yaml) };
    const args: Record<string, unknown> = { ...((spec.arguments ?? {}) as Yaml) };
    for (const [key, value] of Object.entries(spec)) {
      if (key === 'config' || key === 'arguments') continue;
      // Older spelling: config keys beside the arguments.
      if (['severity', 'where', 'warn_if', 'error_if', 'fail_calc', 'store_failures', 'store_failures_as', 'enabled', 'tags', 'limit'].includes(key)) config[key] = value;
      else args[key] = value;
    }
    // Off as written (`enabled: false`), or as a template says once rendered (`"{{ target.type != 'bigquery' }}"`).
    if (config.enabled === false || /^\s*false\s*$/i.test(String(config.enabled ?? ''))) continue;
    const dot = name.lastIndexOf('.');
    const severity = String(config.severity ?? 'error').toLowerCase();
    out.push({
      test: dot > 0 ? name.slice(dot + 1) : name,
      package: dot > 0 ? name.slice(0, dot) : undefined,
      model,
      column,
      args,
      severity: severity === 'warn' ? 'warn' : 'error',
      where: typeof config.where === 'string' ? config.where : undefined,
      warnIf: String(config.warn_if ?? '!= 0'),
      errorIf: String(config.error_if ?? '!= 0'),
      failCalc: typeof config.fail_calc === 'string' ? config.fail_calc : undefined,
      enabledWhen: typeof config.enabled === 'string' && /\{\{|\{%/.test(config.enabled) ? config.enabled : undefined,
      storeFailures: storeFailuresOf(config),
      file,
    });
  }
}

const PERIODS: Record<string, number> = { minute: 60, hour: 3_600, day: 86_400 };

/** A freshness limit (`{count: 12, period: hour}`) in seconds. */
function freshnessLimit(limit: unknown, where: string, file: string): number | undefined {
  if (limit === undefined || limit === null) return undefined;
  const { count, period } = limit as Yaml;
  if (typeof count !== 'number' || !(String(period) in PERIODS)) {
    throw new TributaryError(`the freshness limit of ${where} is ${JSON.stringify(limit)}`, { place: { file }, hint: 'write it as {count: 12, period: hour} (period: minute, hour or day)' });
  }
  return count * PERIODS[String(period)]!;
}

/** Whether a test's config keeps its failing rows: store_failures, or store_failures_as (table or view). */
export function storeFailuresOf(config: Record<string, unknown>): boolean | undefined {
  if (config.store_failures_as !== undefined) return config.store_failures_as !== 'ephemeral';
  return config.store_failures === undefined ? undefined : config.store_failures === true || String(config.store_failures).toLowerCase() === 'true';
}

/**
 * dbt's own check before it parses: the packages a project asks for (packages.yml, or
 * dependencies.yml since dbt 1.6) must be installed, or a macro of theirs fails later as an
 * undefined name deep in some model's Jinja.
 */
function checkPackagesInstalled(dir: string, packagesRoot: string, installed: number): void {
  const file = ['packages.yml', 'dependencies.yml'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!file) return;
  const listed = readYaml(file).packages;
  if (listed !== undefined && !Array.isArray(listed)) {
    throw new TributaryError(`${path.basename(file)}: 'packages' must be a list`, { place: { file, field: 'packages' }, hint: 'write each package as a list item: packages: [{ package: dbt-labs/dbt_utils, version: 1.3.0 }]' });
  }
  const wanted = (listed ?? []) as Yaml[];
  if (wanted.length <= installed) return;
  const named = wanted.map((p) => String(p?.package ?? p?.git ?? p?.local ?? p?.tarball ?? p?.private ?? '?')).join(', ');
  throw new TributaryError(
    `${path.basename(file)} asks for ${wanted.length} package(s) (${named}), but ${path.relative(dir, packagesRoot) || '.'}/ holds ${installed}`,
    {
      place: { file },
      hint: `install them with \`dbt deps\` (pip install dbt-core), or copy each package's folder, its dbt_project.yml at the top, to ${path.relative(dir, packagesRoot)}/<name>; Tributary reads packages as installed and downloads none`,
    },
  );
}

export interface ReadOptions {
  target?: string;
  profilesDir?: string;
}

/**
 * A node whose own `{{ config(enabled=false) }}` turns it off, as dbt's static parser reads the
 * call without rendering the rest (which may not render outside a run that builds it).
 */
function disablesItself(text: string): boolean {
  return /\{\{-?\s*config\s*\([^)]*\benabled\s*=\s*false\b/i.test(text.replace(/\{#[\s\S]*?#\}/g, ''));
}

/** Reads a dbt project folder; throws Tributary's own errors, naming the file, for what it cannot take. */
export function readDbtProject(dir: string, options: ReadOptions = {}): DbtProjectFiles {
  const projectFile = path.join(dir, DBT_PROJECT_FILE);
  const project = readYaml(projectFile);
  const name = String(project.name ?? '');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TributaryError(`dbt_project.yml needs a name (letters, digits, _)`, { place: { file: projectFile, field: 'name' } });
  const warnings: string[] = [];
  const rel = (file: string) => path.relative(dir, file);
  const models: DbtModelFile[] = [];
  const seeds: DbtSeedFile[] = [];
  const snapshots: DbtSnapshotFile[] = [];
  const sources: DbtSourceTable[] = [];
  const tests: DbtTestDeclaration[] = [];
  const singularTests: DbtSingularTest[] = [];
  const unitTests: DbtUnitTest[] = [];
  const macros: DbtMacroFile[] = [];
  const descriptions = new Map<string, string>();
  const packageVars = new Map<string, Record<string, unknown>>();

  /** A node's description, its columns' descriptions and its tests, from a YAML properties file. */
  const readProperties = (node: Yaml, nodeName: string, file: string) => {
    if (typeof node.description === 'string') descriptions.set(nodeName, node.description);
    readTests(node.data_tests ?? node.tests, nodeName, undefined, rel(file), tests);
    for (const column of (node.columns ?? []) as Yaml[]) {
      if (typeof column.description === 'string') descriptions.set(`${nodeName}.${String(column.name)}`, column.description);
      readTests(column.data_tests ?? column.tests, nodeName, String(column.name), rel(file), tests);
    }
  };

  /**
   * One package's nodes, macros and YAML, the root project's included. A package's node takes its
   * own dbt_project.yml's folder configs, then the root project's for that package (`models:
   * segment: +materialized: table`), as dbt layers them.
   */
  const readPackage = (packageDir: string, manifest: Yaml, pkgName: string) => {
    const own = pkgName === name;
    const configFor = (block: 'models' | 'seeds' | 'snapshots', folders: string[], nodeName: string): NodeConfig => {
      const root = folderConfig(project[block], pkgName, folders, nodeName);
      if (own) return root;
      return layered(folderConfig(manifest[block], pkgName, folders, nodeName), root);
    };
    const paths = (key: string, legacy: string | undefined, fallback: string) => stringList(manifest[key] ?? (legacy ? manifest[legacy] : undefined), [fallback]).map((p) => path.join(packageDir, p));
    const yamlFiles: string[] = [];
    for (const root of paths('model-paths', 'source-paths', 'models')) {
      for (const file of listFiles(root, '.sql')) {
        const folders = path.relative(root, path.dirname(file)).split(path.sep).filter(Boolean);
        const modelName = path.basename(file, path.extname(file));
        const config = configFor('models', folders, modelName);
        const text = readFileSync(file, 'utf8');
        if (config.enabled === false || disablesItself(text)) continue;
        models.push({ name: modelName, file: rel(file), text, package: pkgName, config });
      }
      yamlFiles.push(...listFiles(root, '.yml'), ...listFiles(root, '.yaml'));
    }
    for (const root of paths('seed-paths', 'data-paths', 'seeds')) {
      for (const file of listFiles(root, '.csv')) {
        const folders = path.relative(root, path.dirname(file)).split(path.sep).filter(Boolean);
        const seedName = path.basename(file, '.csv');
        const config = configFor('seeds', folders, seedName);
        if (config.enabled !== false) seeds.push({ name: seedName, file: rel(file), config });
      }
      yamlFiles.push(...listFiles(root, '.yml'));
    }
    for (const root of paths('snapshot-paths', undefined, 'snapshots')) {
      for (const file of listFiles(root, '.sql')) {
        const folders = path.relative(root, path.dirname(file)).split(path.sep).filter(Boolean);
        const blocks = snapshotBlocks(readFileSync(file, 'utf8'));
        if (!blocks.length) warnings.push(`${rel(file)} holds no {% snapshot %} block; it was skipped`);
        for (const block of blocks) {
          const config = configFor('snapshots', folders, block.name);
          if (config.enabled !== false) snapshots.push({ name: block.name, file: rel(file), text: block.body, package: pkgName, config });
        }
      }
      yamlFiles.push(...listFiles(root, '.yml'), ...listFiles(root, '.yaml'));
    }
    for (const file of yamlFiles) {
      const doc = readYaml(file);
      // dbt 1.9's snapshots in YAML: a relation (ref or source) and a config.
      for (const node of (doc.snapshots ?? []) as Yaml[]) {
        const nodeName = String(node.name);
        readProperties(node, nodeName, file);
        const declared = snapshots.find((s) => s.name === nodeName);
        const config = { ...configFor('snapshots', [], nodeName), ...((node.config ?? {}) as Yaml) } as NodeConfig;
        if (declared) declared.config = layered(declared.config, (node.config ?? {}) as Yaml);
        else if (typeof node.relation === 'string') {
          if (config.enabled !== false) snapshots.push({ name: nodeName, file: rel(file), text: `select * from {{ ${node.relation} }}`, package: pkgName, config });
        } else {
          throw new TributaryError(`snapshot '${nodeName}' names no relation and no {% snapshot %} block defines it`, {
            place: { file, field: `snapshots.${nodeName}` },
            hint: "give it relation: ref('a_model') (or source('a', 'b')) and a config with unique_key and strategy",
          });
        }
      }
      for (const source of (doc.sources ?? []) as Yaml[]) {
        const sourceMeta = (source.meta ?? {}) as Yaml;
        const sourceConfig = (source.config ?? {}) as Yaml;
        for (const table of (source.tables ?? []) as Yaml[]) {
          const meta = { ...sourceMeta, ...((table.meta ?? {}) as Yaml) };
          const config = { ...sourceConfig, ...((table.config ?? {}) as Yaml) };
          const location = (config.external_location ?? meta.external_location) as string | undefined;
          // A table's own freshness (null: none) wins over its source's; either may sit under config: (dbt 1.9).
          const own = (key: string) => (key in table ? table[key] : key in ((table.config ?? {}) as Yaml) ? ((table.config as Yaml)[key]) : undefined);
          const inherited = (key: string) => own(key) ?? (key in source ? source[key] : (sourceConfig as Yaml)[key]);
          // A table's limits are merged over its source's, key by key, as dbt merges them.
          const sourceFreshness = ('freshness' in source ? source.freshness : (sourceConfig as Yaml).freshness) as Yaml | null | undefined;
          const freshness = own('freshness') === null || (own('freshness') === undefined && !sourceFreshness) ? undefined : ({ ...(sourceFreshness ?? {}), ...((own('freshness') as Yaml | undefined) ?? {}) } as Yaml);
          const where = `${rel(file)}, source ${String(source.name)}, table ${String(table.name)}`;
          sources.push({
            source: String(source.name),
            table: String(table.name),
            identifier: String(table.identifier ?? table.name),
            schema: (source.schema as string | undefined) ?? undefined,
            externalLocation: location,
            freshness: freshness ? { warnAfter: freshnessLimit(freshness.warn_after, where, file), errorAfter: freshnessLimit(freshness.error_after, where, file) } : undefined,
            loadedAtField: inherited('loaded_at_field') === undefined ? undefined : String(inherited('loaded_at_field')),
            freshnessFilter: freshness?.filter === undefined ? undefined : String(freshness.filter),
            file: rel(file),
          });
          for (const column of (table.columns ?? []) as Yaml[]) readTests(column.data_tests ?? column.tests, `source:${String(source.name)}.${String(table.name)}`, String(column.name), rel(file), tests);
        }
      }
      // A package's unit tests run too, as dbt runs them, over its models.
      for (const [index, spec] of ((doc.unit_tests ?? []) as Yaml[]).entries()) {
        const test = readUnitTest(spec, `unit_tests[${index}]`, file, rel(file), packageDir);
        if (test) unitTests.push(test);
      }
      for (const kind of ['models', 'seeds'] as const) {
        for (const node of (doc[kind] ?? []) as Yaml[]) {
          const nodeName = String(node.name);
          readProperties(node, nodeName, file);
          // A model's `config:` in YAML applies as if it were in the model's folder config.
          const target = kind === 'models' ? models.find((m) => m.name === nodeName) : seeds.find((s) => s.name === nodeName);
          if (target && node.config && typeof node.config === 'object') target.config = layered(target.config, node.config as Yaml);
        }
      }
    }
    for (const root of paths('test-paths', undefined, 'tests')) {
      for (const file of listFiles(root, '.sql')) {
        const folders = path.relative(root, file).split(path.sep);
        // tests/fixtures holds unit tests' given rows (`fixture:`), read where a unit test names them: no test of its own.
        if (folders[0] === 'fixtures') continue;
        const text = readFileSync(file, 'utf8');
        // A file under tests/generic (or holding a `{% test %}` block) defines generic tests, like a macro file.
        if (folders.includes('generic') || /\{%-?\s*test\s/.test(text)) macros.push({ package: pkgName, file: rel(file), text });
        else if (own && !disablesItself(text)) singularTests.push({ name: path.basename(file, '.sql'), file: rel(file), text });
      }
    }
    for (const root of paths('macro-paths', undefined, 'macros')) for (const file of listFiles(root, '.sql')) macros.push({ package: pkgName, file: rel(file), text: readFileSync(file, 'utf8') });
    packageVars.set(pkgName, ((manifest.vars ?? {}) as Yaml) ?? {});
  };

  readPackage(dir, project, name);
  // Packages as shipped under dbt_packages/: each one's own dbt_project.yml says where its files are.
  const packagesRoot = path.join(dir, String(project['packages-install-path'] ?? 'dbt_packages'));
  let installed = 0;
  if (existsSync(packagesRoot)) {
    for (const entry of readdirSync(packagesRoot).sort()) {
      const packageDir = path.join(packagesRoot, entry);
      const packageFile = path.join(packageDir, DBT_PROJECT_FILE);
      if (!statSync(packageDir).isDirectory() || !existsSync(packageFile)) continue;
      const manifest = readYaml(packageFile);
      readPackage(packageDir, manifest, String(manifest.name ?? entry));
      installed++;
    }
  }
  checkPackagesInstalled(dir, packagesRoot, installed);

  // As dbt: properties for a node the project does not have are a warning, and their tests are not made.
  const nodeNames = new Set([...models, ...seeds, ...snapshots].map((node) => node.name));
  const orphans = tests.filter((test) => !test.model.startsWith('source:') && !nodeNames.has(test.model));
  for (const name of new Set(orphans.map((test) => test.model))) {
    const file = orphans.find((test) => test.model === name)!.file;
    warnings.push(`${file} describes '${name}', which is no model, seed or snapshot of this project (or is disabled): its tests were not made`);
  }
  tests.splice(0, tests.length, ...tests.filter((test) => !orphans.includes(test)));
  for (const test of unitTests) {
    if (!models.some((m) => m.name === test.model)) {
      throw new TributaryError(`unit test '${test.name}' tests '${test.model}', which is no model of this project (or is disabled)`, {
        place: { file: path.join(dir, test.file) },
        hint: `name one of its models: ${models.map((m) => m.name).slice(0, 12).join(', ')}${models.length > 12 ? ', …' : ''}`,
      });
    }
  }
  const names = new Map<string, string>();
  for (const node of [...models, ...seeds, ...snapshots]) {
    const seen = names.get(node.name);
    if (seen) throw new TributaryError(`two nodes are named '${node.name}': ${seen} and ${node.file}`, { place: { file: node.file }, hint: 'dbt refuses this too: rename one' });
    names.set(node.name, node.file);
  }
  return {
    dir,
    name,
    projectFile,
    vars: ((project.vars ?? {}) as Yaml) ?? {},
    packageVars,
    models,
    seeds,
    snapshots,
    sources,
    tests,
    singularTests,
    unitTests,
    macros,
    onRun: { start: stringList(project['on-run-start'], []), end: stringList(project['on-run-end'], []) },
    storeFailures: storeFailuresOf(folderConfig(project['data_tests'] ?? project.tests, name, [], '')) ?? false,
    descriptions,
    target: readProfile(dir, String(project.profile ?? name), options.target, options.profilesDir),
    warnings,
  };
}
