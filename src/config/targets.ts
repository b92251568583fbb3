import type { StoreConfig } from '../connectors/index.js';
import { TributaryError } from '../core/errors.js';
import type { ResolvedConfig } from './config.js';

/** The target a project runs against: its name and the stores it names. */
export interface Target {
  name: string;
  stores: Record<string, StoreConfig>;
}

/** The target when a project declares none: every table in the embedded warehouse. */
const EMBEDDED: Target = { name: 'default', stores: {} };

/**
 * Picks the active target: the one asked for (`--target`), else TRIBUTARY_TARGET, else the
 * project's `target`, else its first. Checks that every store a model names exists in every
 * target, so switching targets never fails half-way through a run.
 */
export function resolveTarget(config: ResolvedConfig, asked: string | undefined, configFile: string): Target {
  const declared = Object.keys(config.targets);
  for (const [model, m] of Object.entries(config.models)) {
    const store = 'store' in m.materialize ? m.materialize.store : undefined;
    if (!store) continue;
    const missing = declared.length ? declared.filter((t) => !config.targets[t]!.stores[store]) : ['(none declared)'];
    if (missing.length) {
      throw new TributaryError(`model '${model}' is materialised in store '${store}', which target${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not declare`, {
        place: { file: configFile, field: `models.${model}.materialize.store` },
        hint: `declare it in every target, e.g. targets: { dev: { stores: { ${store}: { kind: 'duckdb' } } }, prod: { stores: { ${store}: { kind: 'postgres', urlEnv: 'WAREHOUSE_URL' } } } }`,
      });
    }
  }
  const name = asked ?? process.env.TRIBUTARY_TARGET ?? config.target ?? declared[0];
  if (name === undefined) return EMBEDDED;
  const target = config.targets[name];
  if (!target) {
    throw new TributaryError(`no target named '${name}'${asked ? '' : process.env.TRIBUTARY_TARGET ? ' (from TRIBUTARY_TARGET)' : ' (the project’s `target`)'}`, {
      place: { file: configFile, field: 'targets' },
      hint: declared.length ? `targets of this project: ${declared.join(', ')}` : 'the project declares no targets: declare one under targets, or drop --target and TRIBUTARY_TARGET',
    });
  }
  return { name, stores: target.stores };
}
