import { existsSync, readFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register as registerCommonJs } from 'tsx/cjs/api';
import { tsImport } from 'tsx/esm/api';
import { CONFIG_FILES, findConfigFile, stateDirOf } from './folders.js';
import { builtinComponents, registryWith, type ComponentRegistry } from './components.js';
import { projectSchema, projectSchemaFor, type ResolvedConfig } from './config.js';
import { resolveTarget, type Target } from './targets.js';
import { TributaryError } from '../core/errors.js';
import { describeIssues, problemsText } from '../core/issues.js';
import { packageInfo } from '../core/package.js';
import { dbtReadText, hasDbtProject, loadDbt, type DbtAttachment } from '../dbt/index.js';

/** A loaded project: its validated config and where its files, lake and state live. */
export interface Project {
  dir: string;
  configFile: string;
  config: ResolvedConfig;
  /** Where its tables go: the active target and the stores it names. */
  target: Target;
  /** Every component its config may name: Tributary's and its own. */
  components: ComponentRegistry;
  /** The lake: a local folder, or an `s3://bucket/prefix` URL (TRIBUTARY_LAKE, else --data-dir, else the config's `lake`). */
  lakeLocation: string;
  stateDir: string;
  /**
   * The catalog and the warehouse in PostgreSQL, shared by every process of the project
   * (TRIBUTARY_CATALOG, else the variable the config's `catalog.urlEnv` names); undefined: both
   * in the state folder, owned by one process.
   */
  catalogUrl: string | undefined;
  /** The DuckDB file of the warehouse, when not `<stateDir>/warehouse.duckdb` (a dbt profile's `path`). */
  warehouseFile?: string;
  /** A dbt project in the folder (`dbt_project.yml`): its models render for each run. */
  dbt?: DbtAttachment;
  /** Reads a project-relative file, or returns inline text as it is (for `sql:` fields). */
  readText(fileOrInline: string, field: string): string;
  resolvePath(relative: string): string;
}

export interface LoadOptions {
  /** Puts the lake and the state under one folder, e.g. for benchmarks or tests. */
  dataDir?: string;
  /** The target to run against (`--target`); else TRIBUTARY_TARGET, the project's `target`, its first. */
  target?: string;
  /** dbt's `--vars`: a YAML mapping over the `vars` of dbt_project.yml. */
  vars?: string;
}

let serving: Promise<void> | undefined;
/** Where the running package is handed over to a config's import or require of it (own-package.cts reads it too). */
const OWN_PACKAGE = Symbol.for('tributary.own-package');
/** The running package's exports, once a config has been given them. */
let ownPackage: Record<string, unknown> | undefined;

/** The names projects import the package by: 'tributary' (what `tributary init` installs it as) and its registry name. */
const ownNames = () => [...new Set(['tributary', packageInfo().name])];

/**
 * Config files import `defineProject` from 'tributary'. A project folder need not have the
 * package installed, so the loader answers that import with the running Tributary itself, both
 * for a project whose files are ES modules and for one whose package.json makes them CommonJS
 * (no "type": "module"), where the import becomes a require. Both get the very module this
 * process runs: a require of it read through tsx was the whole package again, every file
 * converted to CommonJS on each command (0.4 s of its start), and an import of its file a second
 * copy too (0.3 s; and a TributaryError the config threw was not this process's class).
 */
function serveOwnPackage(): Promise<void> {
  return (serving ??= serve());
}

async function serve(): Promise<void> {
  const compiled = fileURLToPath(new URL('../index.js', import.meta.url));
  // From source (tests, tsx) the entry is the TypeScript file beside where the build puts it.
  const built = existsSync(compiled);
  const self = built ? compiled : compiled.replace(/\.js$/, '.ts');
  const own = (await import(pathToFileURL(self).href)) as Record<string, unknown>;
  ownPackage = own;
  (globalThis as Record<symbol, unknown>)[OWN_PACKAGE] = own;
  const names = ownNames();
  // A tsconfig's `paths` (this repository's, for its examples) may have turned the name into the
  // entry's own file first.
  const entries = [self, compiled.replace(/[\\/]dist[\\/]index\.js$/, `${path.sep}src${path.sep}index.ts`)];
  // An ES module that exports the running package's own bindings: tsx keeps a config's imports
  // apart (a query on each file's URL), so the entry's file would be evaluated again, whole.
  const handOver = [
    `const own = globalThis[Symbol.for(${JSON.stringify(OWN_PACKAGE.description)})];`,
    ...Object.keys(own).map((name, i) => `const binding${i} = own[${JSON.stringify(name)}];\nexport { binding${i} as ${JSON.stringify(name)} };`),
  ].join('\n');
  const hook = `import { fileURLToPath } from 'node:url';
  export async function resolve(specifier, context, next) {
    const file = specifier.startsWith('file:') ? fileURLToPath(specifier) : specifier;
    if (${JSON.stringify(names)}.includes(specifier) || ${JSON.stringify(entries)}.includes(file)) return { url: ${JSON.stringify(`data:text/javascript,${encodeURIComponent(handOver)}`)}, shortCircuit: true };
    return next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  // require() has no loader hooks: CommonJS resolution is redirected the way module-alias does it,
  // to a module that hands over this process's own.
  const required = fileURLToPath(new URL(`./own-package.${built ? 'cjs' : 'cts'}`, import.meta.url));
  const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = resolver._resolveFilename;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
    return names.includes(request) ? required : resolveFilename.call(this, request, ...rest);
  };
  registerCommonJs();
}

/** Imports a TypeScript or JavaScript module of the project (a scheduled task's functions, say). */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  await serveOwnPackage();
  const mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  // A module compiled as CommonJS arrives with all its exports under `default`.
  const keys = Object.keys(mod).filter((k) => k !== 'module.exports');
  return keys.length === 1 && keys[0] === 'default' && mod.default && typeof mod.default === 'object' ? (mod.default as Record<string, unknown>) : mod;
}

/** Imports a TypeScript or JavaScript module of the project (config, dashboards) and returns its default export. */
export async function importDefault(file: string): Promise<unknown> {
  await serveOwnPackage();
  const mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { default?: unknown };
  let exported = mod.default;
  // A module compiled as CommonJS (a project without "type": "module") arrives wrapped once more:
  // its exports object, marked __esModule by the compiler, holds the default beside the named ones.
  if (exported && typeof exported === 'object' && 'default' in exported && ((exported as { __esModule?: unknown }).__esModule === true || Object.keys(exported).length === 1)) {
    exported = (exported as { default: unknown }).default;
  }
  return exported;
}

/** The lake: an `s3://` URL as it is, or a folder relative to the project. */
function lakeLocationOf(location: string, resolvePath: (relative: string) => string): string {
  return /^s3:\/\//.test(location) ? location.replace(/\/+$/, '') : resolvePath(location);
}

/** The shared catalog's URL: TRIBUTARY_CATALOG, else the variable `catalog.urlEnv` names (which must then be set). */
function catalogUrlOf(config: ResolvedConfig, configFile: string): string | undefined {
  const variable = process.env.TRIBUTARY_CATALOG ? 'TRIBUTARY_CATALOG' : config.catalog?.urlEnv;
  if (!variable) return undefined;
  const url = process.env[variable];
  if (!url) {
    throw new TributaryError(`the catalog is in PostgreSQL, but the environment variable ${variable} is not set`, {
      place: { file: configFile, field: 'catalog.urlEnv' },
      hint: `export ${variable}=postgres://user@host:5432/database (the database must exist; Tributary creates its tables there)`,
    });
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new TributaryError(`${variable} must be a PostgreSQL URL (postgres://user@host:5432/database), not '${url.split(':')[0]}:…'`, {
      hint: 'the shared catalog lives in PostgreSQL; unset the variable to keep the catalog in the state folder',
    });
  }
  return url;
}


export async function loadProject(dirArg: string | undefined, options: LoadOptions = {}): Promise<Project> {
  const dir = path.resolve(dirArg ?? process.cwd());
  const tsConfig = findConfigFile(dir);
  const dbtHere = hasDbtProject(dir);
  if (!tsConfig && !dbtHere) {
    throw new TributaryError(`no Tributary project here: none of ${CONFIG_FILES.join(', ')}, dbt_project.yml exists`, {
      place: { file: dir },
      hint: 'run `tributary init` to create one, or pass --project DIR',
    });
  }
  const configFile = tsConfig ?? path.join(dir, 'dbt_project.yml');
  // Ignored, a typo in them would go unseen: a Tributary project's settings live in its config and the environment.
  if (options.vars !== undefined && !dbtHere) {
    throw new TributaryError(`--vars sets a dbt project's vars, and ${dir} has no dbt_project.yml`, {
      hint: 'drop --vars; a Tributary project reads its settings from its config, which may read the environment (process.env)',
    });
  }
  let exported: unknown;
  try {
    if (tsConfig) exported = await importDefault(tsConfig);
  } catch (error) {
    // The config's own refusal (a setting missing from the environment, say) is said as it says it.
    if (error instanceof TributaryError) throw error.place.file ? error : new TributaryError(error.message, { place: { file: configFile }, hint: error.hint, cause: error });
    const message = (error as Error).message;
    const missing = /Cannot find (module|package) '([^']+)'/.exec(message)?.[2];
    const [, from, unexported] = /The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(message) ?? [];
    // The compiler says where on its second line ("FILE:LINE:COLUMN: ERROR: what"); its first only counts the errors.
    const [, line, column, what] = /^.+?:(\d+):(\d+): ERROR: (.+)$/m.exec(message) ?? [];
    throw new TributaryError(`the config file could not be loaded: ${what ? `${what} (column ${column})` : message.split('\n')[0]}`, {
      place: { file: configFile, ...(line ? { line: Number(line) } : {}) },
      hint: missing
        ? `the config imports '${missing}', which is not installed where the project is: run \`npm install ${missing}\` in ${dir} (or fix the import)`
        : from && ownNames().includes(from) && ownPackage
          ? `Tributary ${packageInfo().version} exports ${Object.keys(ownPackage).sort().join(', ')}: fix the name '${unexported}'`
          : /SyntaxError|Transform failed|Expected/.test(message)
          ? 'fix the TypeScript at that line; the file must `export default defineProject({...})`'
          : 'the file must `export default defineProject({...})`; run with TRIBUTARY_DEBUG=1 to see the whole error',
      cause: error,
    });
  }
  const dbt = dbtHere ? loadDbt(dir, exported as Record<string, unknown> | undefined, { target: options.target, vars: options.vars }) : undefined;
  if (dbt) {
    exported = dbt.raw;
    for (const warning of dbt.warnings) process.stderr.write(`warning: ${warning}\n`);
  }
  const components = registryWith((exported as { components?: unknown } | undefined)?.components, configFile);
  const parsed = (components === builtinComponents ? projectSchema : projectSchemaFor(components).projectSchema).safeParse(exported);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, exported);
    throw new TributaryError(problemsText(problems, 'the config'), {
      place: { file: configFile, field: problems.length === 1 ? problems[0]!.key || undefined : undefined },
      hint: 'see the ProjectConfig type for the expected shape; your editor shows it when the file uses defineProject',
    });
  }
  const config = parsed.data;
  const resolvePath = (relative: string) => path.resolve(dir, relative);
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
  const readText: Project['readText'] = (fileOrInline, field) => {
    if (!/\.sql$/i.test(fileOrInline.trim())) return fileOrInline;
    const file = resolvePath(fileOrInline.trim());
    if (!existsSync(file)) {
      throw new TributaryError(`the SQL file ${fileOrInline} does not exist`, {
        place: { file: configFile, field },
        hint: `create ${file} or correct the path (it is relative to the project folder)`,
      });
    }
    return readFileSync(file, 'utf8');
  };
  // A dbt project's target is its profile's, unless the config declares targets of its own.
  const target = dbt && !Object.keys(config.targets).length ? { name: dbt.targetName, stores: {} } : resolveTarget(config, options.target, configFile);
  return {
    dir,
    configFile,
    config,
    target,
    warehouseFile: dbt?.warehouseFile,
    dbt: dbt?.attachment,
    components,
    lakeLocation: lakeLocationOf(process.env.TRIBUTARY_LAKE || (dataDir ? path.join(dataDir, 'lake') : (config.lake ?? 'lake')), resolvePath),
    stateDir: stateDirOf(dir, options.dataDir, config.state),
    catalogUrl: catalogUrlOf(config, configFile),
    resolvePath,
    readText: dbt ? dbtReadText(dbt.attachment.sql, readText) : readText,
  };
}
