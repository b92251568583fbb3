import { z } from 'zod';
import type { JsonValue } from '../json.js';
import { matchFiles } from './files.js';
import { renderTemplate, templateSchema } from './template.js';
import { TaskFailure, defineTaskComponent, type TaskContext } from './types.js';
import { firstValue, isTruthy } from './values.js';

/** Airflow's default: a sensor with no timeoutSeconds of its own (nor from its job) waits at most a week. */
export const DEFAULT_SENSOR_TIMEOUT_SECONDS = 7 * 24 * 3600;

const MODES = ['files', 'sql', 'lakeObject'] as const;

/** What a sensor remembers between pokes: how many, and the files seen (path → [size, mtime]). */
const pokeStateSchema = z.object({
  pokes: z.number().int().nonnegative(),
  files: z.record(z.string(), z.tuple([z.number(), z.number()])).optional(),
});
type PokeState = z.output<typeof pokeStateSchema>;

interface Poke {
  met: boolean;
  /** A sentence for the log and, on timeout, the error. */
  detail: string;
  files?: Record<string, [number, number]>;
}

const sensorConfig = z
  .strictObject({
    /** A glob (templated: 'landing/{{ ds }}/*.json'); met when ≥ minFiles matching files kept their size since the previous poke. */
    files: templateSchema.optional(),
    minFiles: z.number().int().min(1).default(1),
    /** A query (templated, SQL literals) whose first value is truthy when the condition holds. */
    sql: templateSchema.optional(),
    /** A key in the lake's storage (templated) that must exist, e.g. 'raw/events/ds={{ ds }}/_SUCCESS'. */
    lakeObject: templateSchema.optional(),
    pokeSeconds: z.number().positive().default(30),
  })
  .refine((config) => MODES.filter((mode) => config[mode] !== undefined).length === 1, {
    message: `a sensor needs exactly one of ${MODES.join(', ')}`,
  });
type SensorConfig = z.output<typeof sensorConfig>;

async function pokeFiles(ctx: TaskContext, pattern: string, minFiles: number, previous: PokeState, pokeSeconds: number): Promise<Poke> {
  const glob = renderTemplate(pattern, ctx.vars, 'text');
  const matched = await matchFiles(glob, ctx.platform.projectDir);
  const seen: Record<string, [number, number]> = {};
  let stable = 0;
  // A file is stable once it kept its size between two pokes, or when nothing has written to it
  // for a whole poke interval already (a file that landed long ago needs no second look).
  const settledBefore = ctx.platform.now().getTime() - pokeSeconds * 1000;
  for (const file of matched) {
    seen[file.path] = [file.size, file.mtimeMs];
    const before = previous.files?.[file.path];
    if ((before && before[0] === file.size && before[1] === file.mtimeMs) || file.mtimeMs <= settledBefore) stable++;
  }
  return {
    met: stable >= minFiles,
    detail: `${matched.length} file(s) match ${glob}, ${stable} unchanged since the previous poke (need ${minFiles})`,
    files: seen,
  };
}

async function poke(ctx: TaskContext, config: SensorConfig, previous: PokeState): Promise<Poke> {
  if (config.files !== undefined) return pokeFiles(ctx, config.files, config.minFiles, previous, config.pokeSeconds);
  if (config.sql !== undefined) {
    const sql = renderTemplate(config.sql, ctx.vars, 'sql');
    const value = firstValue(await ctx.platform.query(sql, { signal: ctx.signal }));
    return { met: isTruthy(value), detail: `query returned ${value === undefined ? 'no rows' : String(value)}: ${sql}` };
  }
  const key = renderTemplate(config.lakeObject ?? '', ctx.vars, 'text');
  const exists = await ctx.platform.lakeObjectExists(key, { signal: ctx.signal });
  return { met: exists, detail: `lake object ${key} ${exists ? 'exists' : 'does not exist'}` };
}

/**
 * Waits for a condition without holding a worker slot: each poke either succeeds or asks to be
 * rescheduled pokeSeconds later (Airflow's reschedule mode). The wait is bounded by the task's
 * timeoutSeconds, counted from the first poke; a timeout is final (no retries), as in Airflow.
 */
export const sensorTask = defineTaskComponent({
  kind: 'sensor',
  description: 'Wait until files are present and stable, a query returns true, or a lake object exists',
  config: sensorConfig,
  create: (config) => ({
    async run(ctx) {
      const parsed = pokeStateSchema.safeParse(ctx.pokeState);
      const previous: PokeState = parsed.success ? parsed.data : { pokes: 0 };
      const result = await poke(ctx, config, previous);
      const pokes = previous.pokes + 1;
      ctx.log(`poke ${pokes}: ${result.detail}`);
      if (result.met) return { status: 'success', result: { pokes, condition: result.detail } };
      const now = ctx.platform.now().getTime();
      const timeoutMs = (ctx.timeoutSeconds ?? DEFAULT_SENSOR_TIMEOUT_SECONDS) * 1000;
      const deadline = ctx.attemptStartedAt.getTime() + timeoutMs;
      if (now >= deadline) {
        throw new TaskFailure(
          `sensor timed out after ${Math.round((now - ctx.attemptStartedAt.getTime()) / 1000)} s and ${pokes} pokes: ${result.detail}`,
          { retryable: false },
        );
      }
      const pokeState: JsonValue = result.files ? { pokes, files: result.files } : { pokes };
      return { status: 'reschedule', nextPokeAt: new Date(Math.min(now + config.pokeSeconds * 1000, deadline)), pokeState };
    },
  }),
});
