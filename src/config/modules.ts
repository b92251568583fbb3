import { TributaryError } from '../core/errors.js';
import type { ProgressUpdate } from '../core/progress.js';
import { importDefault, type Project } from './project.js';

/**
 * What an example project brings of its own: generators of realistic data and replayers of live
 * events. Tributary runs them (`tributary generate`, `produce`, `demo`); it knows nothing of their
 * datasets.
 */
export interface GeneratorContext {
  projectDir: string;
  /** Where to write (a file or a folder, as the generator documents). */
  out: string;
  /** How much to write, in the generator's unit (rows, events, days…), when asked. */
  size?: number;
  seed: number;
  /** Further `--set key=value` options. */
  options: Record<string, string>;
  progress(update: ProgressUpdate): void;
  log(message: string): void;
}

export interface GeneratorResult {
  files: string[];
  rows: number;
  bytes: number;
}

export interface GeneratorDefinition {
  description: string;
  /** What `size` counts, for help: 'rows', 'events per day'… */
  unit: string;
  /** Where it writes when no --out is given, relative to the project. */
  defaultOut: string;
  defaultSize: number;
  /** The `--set` keys it reads, each with what it sets: `generate` refuses any other key. */
  options?: Record<string, string>;
  run(context: GeneratorContext): Promise<GeneratorResult>;
  /**
   * Live data as it would arrive: keeps writing into `out` (files dropped into a folder a stream
   * reads) until `signal` aborts, then resolves with what it wrote. `tributary demo` runs it when
   * the project's `demo.writer` names the generator.
   */
  live?(context: LiveGeneratorContext): Promise<GeneratorResult>;
}

export interface LiveGeneratorContext {
  projectDir: string;
  /** The folder to write into; it exists. */
  out: string;
  seed: number;
  /** Records per second when asked (`tributary demo --rate N`); otherwise the generator's own pace. */
  rate?: number;
  signal: AbortSignal;
  log(message: string): void;
}

export function defineGenerator(definition: GeneratorDefinition): GeneratorDefinition {
  return definition;
}

export interface ReplayerContext {
  projectDir: string;
  seed?: number;
  log(message: string): void;
}

export interface ReplayerDefinition {
  description: string;
  /** Without a rate, events come as the original producer sent them: bursts at random intervals. */
  bursts: { minEvents: number; maxEvents: number; minMs: number; maxMs: number };
  /** Prepares the replay; `next` makes `count` events (JSON text each), stamped at `now`. */
  open(context: ReplayerContext): Promise<{ next(count: number, now: number): string[] }>;
}

export function defineReplayer(definition: ReplayerDefinition): ReplayerDefinition {
  return definition;
}

async function loadModule<T>(project: Project, kind: 'generators' | 'replayers', name: string, check: (value: unknown) => value is T): Promise<T> {
  const entries = project.config[kind] as Record<string, { module: string }>;
  const entry = Object.hasOwn(entries, name) ? entries[name] : undefined;
  if (!entry) {
    throw new TributaryError(`project ${project.config.name} has no ${kind.slice(0, -1)} '${name}'`, {
      hint: `${kind}: ${Object.keys(entries).join(', ') || '(none declared)'}`,
    });
  }
  const file = project.resolvePath(entry.module);
  const exported = await importDefault(file).catch((error: Error) => {
    throw new TributaryError(`cannot load ${file}: ${error.message}`, { place: { file }, hint: `it must export default ${kind === 'generators' ? 'defineGenerator' : 'defineReplayer'}({...})` });
  });
  if (!check(exported)) throw new TributaryError(`${file} does not export a ${kind.slice(0, -1)}`, { place: { file }, hint: `export default ${kind === 'generators' ? 'defineGenerator' : 'defineReplayer'}({...})` });
  return exported;
}

export function loadGenerator(project: Project, name: string): Promise<GeneratorDefinition> {
  return loadModule(project, 'generators', name, (v): v is GeneratorDefinition => typeof (v as GeneratorDefinition | undefined)?.run === 'function');
}

export function loadReplayer(project: Project, name: string): Promise<ReplayerDefinition> {
  return loadModule(project, 'replayers', name, (v): v is ReplayerDefinition => typeof (v as ReplayerDefinition | undefined)?.open === 'function');
}
