import { existsSync } from 'node:fs';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { DbtSurface, parseVars, seedSourceName, type DbtRelationName, type DbtRender } from './compile.js';
import { DBT_PROJECT_FILE, readDbtProject } from './project.js';

/**
 * Where a dbt project meets the rest of Tributary: a project folder with `dbt_project.yml` loads
 * as a project whose models are the dbt models (and seeds), optionally beside a
 * `tributary.config.ts` that adds what dbt has no words for. The rest of Tributary sees models,
 * sources and a warehouse file, as for any project.
 */

export interface DbtAttachment {
  surface: DbtSurface;
  /** The config object before validation: the project's own (if any) with the dbt models added. */
  raw: Record<string, unknown>;
  /** Model names that come from dbt (a config's own models are kept as they are). */
  names: ReadonlySet<string>;
  /** Model file → rendered SQL of the current render. */
  sql: ReadonlyMap<string, string>;
  /** Node name → the relation dbt would build it as, where `publishDbtRelations` puts a view of it. */
  relations: ReadonlyMap<string, DbtRelationName>;
  /** Node name → its rendered pre- and post-hooks; `''`: on-run-start and on-run-end. */
  hooks: DbtRender['hooks'];
  /** Node name → why its render failed: it fails when a command builds or compiles it. */
  failed: DbtRender['failed'];
  /** The source each seed loads through → the seed's CSV file: dbt gives a seed no quarantine limit to raise. */
  seeds: ReadonlyMap<string, string>;
}

export function hasDbtProject(dir: string): boolean {
  return existsSync(path.join(dir, DBT_PROJECT_FILE));
}

export interface DbtLoad {
  raw: Record<string, unknown>;
  attachment: DbtAttachment;
  warehouseFile: string;
  targetName: string;
  warnings: string[];
}

/**
 * Reads the dbt project in `dir` and adds its models and seeds to `exported` (the project's own
 * config, or nothing). Models render as for a first build; each command renders them again for
 * what the warehouse holds then (see `renderForRun`).
 */
export function loadDbt(dir: string, exported: Record<string, unknown> | undefined, options: { target?: string; vars?: string }): DbtLoad {
  const files = readDbtProject(dir, { target: options.target });
  const surface = new DbtSurface(files, parseVars(options.vars));
  const render = surface.render({ existing: new Set(), fullRefresh: false });
  const own = (exported?.models ?? {}) as Record<string, unknown>;
  const ownSources = (exported?.sources ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(render.models)) {
    if (own[name]) {
      throw new TributaryError(`model '${name}' is both a dbt node and a model of the config`, {
        place: { file: path.join(dir, files.models.find((m) => m.name === name)?.file ?? DBT_PROJECT_FILE) },
        hint: 'keep one: the config may refer to dbt models by name, not declare them again',
      });
    }
  }
  const raw = {
    ...(exported ?? {}),
    name: (exported?.name as string | undefined) ?? files.name.toLowerCase(),
    threads: exported?.threads ?? files.target.threads ?? 1,
    models: { ...own, ...render.models },
    sources: { ...ownSources, ...render.sources },
  };
  return {
    raw,
    attachment: { surface, raw, names: new Set(Object.keys(render.models)), sql: render.sql, relations: render.relations, hooks: render.hooks, failed: render.failed, seeds: new Map(files.seeds.map((seed) => [seedSourceName(seed.name), seed.file])) },
    warehouseFile: files.target.path,
    targetName: files.target.name,
    warnings: files.warnings,
  };
}

/** How a project reads a model's SQL file (or takes inline SQL as it is). */
export type ReadText = (fileOrInline: string, field: string) => string;

/** The dbt models' rendered SQL served where a model's file would be read. */
export function dbtReadText(sql: ReadonlyMap<string, string>, fallback: ReadText): ReadText {
  return (fileOrInline, field) => sql.get(path.normalize(fileOrInline.trim())) ?? fallback(fileOrInline, field);
}
