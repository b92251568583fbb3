import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CatalogTransaction } from '../catalog/index.js';
import type { StreamInput } from '../connectors/index.js';
import type { StreamConfig } from '../config/config.js';
import { errorMessage, isDiskFull, unknownTypeError } from '../core/errors.js';
import { failpoint } from '../core/failpoints.js';
import { isAlive } from '../core/folder-lock.js';
import { OffsetConflict } from '../core/offsets.js';
import { declaredColumns, type DeclaredColumn } from '../core/schemas.js';
import { quoteIdent, type Engine } from '../engine/index.js';
import { ruleTypeProblem, ruleWithoutColumn } from '../quality/index.js';
import type { Workspace } from '../state/workspace.js';
import { camelCase } from '../connectors/sources/json-options.js';
import { BatchWriter, loadPreparedBatch, type MicroBatch, type PreparedBatch } from './microbatch.js';
import { DeadLetterSink } from './sinks/dead-letters.js';
import { ModelSink } from './sinks/model-sink.js';
import type { SinkCommit, StagedBatch, StreamSink } from './sinks/types.js';
import { LatencyHistogram, LatencyWindow, RollingRate, type HistogramSnapshot } from './stats.js';

export interface JobStatus {
  job: string;
  /** The consumer group the job reads as: its committed offsets are the group's. */
  group: string;
  input: string;
  state: 'starting' | 'running' | 'stopped' | 'failed';
  batches: number;
  events: number;
  eventsPerSecond: number;
  lag: number;
  deadLetters: number;
  late: number;
  /** Batches another worker of the job had committed first (a partition changing hands): dropped, not committed twice. */
  conflicts: number;
  lastBatch: { events: number; ms: number; at: string; durationMs: BatchDurations } | null;
  latencyMs: { p50: number | null; p99: number | null };
  /** Every committed event's seconds from append to commit, since the job started. */
  eventToCommitSeconds: HistogramSnapshot;
  sinks: { name: string; kind: string; rows: Record<string, number> }[];
  error: string | null;
}

/**
 * Where a micro-batch's time went (like Spark's `durationMs` in a query's progress): reading the
 * input into the batch, writing it to the engine's scratch file, typing and judging it, each
 * sink's staging, then the commit. While there is a backlog, a batch is read while the engine
 * loads and commits the one before; from an input that follows (the embedded log) it always is,
 * and `read` is then what the job waited for it once it asked.
 */
export interface BatchDurations {
  read: number;
  stage: number;
  load: number;
  /** Per sink, its models run over the batch and its rows staged (files written, tables built). */
  sinks: Record<string, number>;
  /** Every sink's commit: one transaction for the sinks that share the catalog's, one each for the others. */
  commit: number;
}

/**
 * Where a consumer group stands, per partition of its input: the offset it has committed (the
 * next it will read, in every sink; null before its first commit there), the input's end offset,
 * and the records between them.
 */
export interface GroupOffsets {
  group: string;
  job: string;
  input: string;
  partitions: { partition: number; committed: number | null; end: number; lag: number }[];
  /** Why the end offsets could not be read (a broker down), if so. */
  error: string | null;
}

export interface BatchCommitted {
  job: string;
  events: number;
  /** Tables that changed, for anything that shows them (live dashboards). */
  tables: string[];
}

/** The consumer group a stream reads as: the one it names, else the job's name. */
export function groupOf(job: string, config: StreamConfig): string {
  return config.group ?? job;
}

/** Builds the sinks a stream's config declares, plus its dead-letter sink; they commit the group's offsets. */
export function createSinks(ws: Workspace, engine: Engine, job: string, config: StreamConfig): StreamSink[] {
  const group = groupOf(job, config);
  return [
    new DeadLetterSink(job, group, engine, ws.metastore),
    ...Object.entries(config.sinks).map(([name, sink]) => new ModelSink(job, group, name, sink, engine, ws, config.binds)),
  ];
}

/** Scratch files are named by host and process, so that a worker knows which ones it may remove. */
function hostPrefix(): string {
  return `batch-${hostname().replace(/[^\w.-]/g, '_')}-`;
}

/**
 * A worker killed with SIGKILL leaves its scratch file (up to a whole batch) behind; the next one
 * on the same host removes those of processes that no longer run. Files of other hosts (a project
 * folder on shared storage) are left to their own workers.
 */
function removeDeadWorkersFiles(scratch: string): void {
  const host = hostPrefix();
  for (const file of readdirSync(scratch)) {
    if (!file.startsWith(host)) continue;
    const pid = Number(/^(\d+)-/.exec(file.slice(host.length))?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    rmSync(path.join(scratch, file), { force: true });
  }
}

/**
 * A stream job: micro-batches from an input through the project's models into every sink. Each
 * sink commits its rows with its own offsets; the job reads from the least advanced sink, and a
 * sink skips what it already has, so a crash anywhere replays into exactly-once tables.
 *
 * The job is one consumer group: the offsets its sinks commit belong to the group, so another
 * job reading the same topic as another group receives every record too, from offsets of its own.
 */
export class StreamJob {
  private positions = new Map<number, number>();
  private readonly rate = new RollingRate();
  private readonly latency = new LatencyWindow();
  private readonly eventToCommit = new LatencyHistogram();
  private readonly status: JobStatus;
  /**
   * One staging area is enough: a batch is written to it only once the engine has loaded the one
   * before into its table.
   */
  private readonly scratchFile: string;
  /**
   * Two batches in memory: while the engine loads one, the input reads the next into the other.
   * A writer is free again once its batch is loaded: the batch's table holds what the sinks need.
   */
  private readonly writers = [new BatchWriter(), new BatchWriter()];
  private nextWriter = 0;
  /**
   * The connection batches load on. With a backlog the next batch is typed and judged while the
   * job's own connection stages and commits this one: a commit's insert into a serving table and
   * its transaction keep one core busy, and the load takes the other.
   */
  private loader: Engine | undefined;
  /** The batch tables: a batch loaded ahead goes into the one the batch committing is not in. */
  private readonly batchTables: [string, string];
  private readonly schemaTable: string;
  /**
   * The next batch, read while the engine works on the current one: with a backlog, or always
   * from an input that follows (taking what arrives until `until` says the job wants it). With a
   * backlog it is loaded too, once read.
   */
  private ahead: { batch: Promise<Ahead | undefined>; until: AbortController } | undefined;
  private stopping = false;
  private running: Promise<void> | undefined;
  /** Aborted by `stop`: ends a wait for the disk early. */
  private readonly stopped = new AbortController();
  private readonly listeners: ((event: BatchCommitted) => void)[] = [];
  private readonly columns: DeclaredColumn[];
  private readonly sinks: StreamSink[];
  readonly group: string;

  /** `engine` is the job's own connection: its micro-batches live in its temp tables. */
  constructor(
    private readonly ws: Workspace,
    private readonly engine: Engine,
    readonly name: string,
    readonly config: StreamConfig,
    private readonly input: StreamInput,
  ) {
    this.group = groupOf(name, config);
    this.columns = declaredColumns(config.columns, config.json?.keys === 'camelCase' ? camelCase : undefined);
    this.sinks = createSinks(ws, engine, name, config);
    const scratch = path.join(ws.project.stateDir, 'stream', name);
    mkdirSync(scratch, { recursive: true });
    // A file of this job's own: workers of one job on one machine share its project's folder, and
    // one that loaded another's batch from a shared file committed that worker's events under its
    // own offsets (duplicates and gaps, caught by test/examples-at-scale.test.ts under load).
    removeDeadWorkersFiles(scratch);
    const instance = `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.scratchFile = path.join(scratch, `${hostPrefix()}${instance}.txt`);
    // The engine's other jobs (and this job's other workers in one process) have tables of their
    // own; named `__…`, as Tributary's own tables are, no listing of the project's tables shows them.
    const table = (role: string) => `${BATCH_DATABASE}.${quoteIdent(`__${name}_${instance}_${role}`)}`;
    this.batchTables = [table('batch_0'), table('batch_1')];
    this.schemaTable = table('schema');
    this.status = {
      job: name,
      group: this.group,
      input: input.describe(),
      state: 'starting',
      batches: 0,
      events: 0,
      eventsPerSecond: 0,
      lag: 0,
      deadLetters: 0,
      late: 0,
      conflicts: 0,
      lastBatch: null,
      latencyMs: { p50: null, p99: null },
      eventToCommitSeconds: this.eventToCommit.snapshot(),
      sinks: this.sinks.map((s) => ({ name: s.name, kind: s.kind, rows: {} })),
      error: null,
    };
  }

  onCommit(listener: (event: BatchCommitted) => void): void {
    this.listeners.push(listener);
  }

  async open(): Promise<void> {
    const unknown = await this.engine.unknownType(this.columns);
    if (unknown) throw unknownTypeError(unknown, { file: this.ws.project.configFile, field: `streams.${this.name}.columns.${unknown.name}` });
    const rules = this.config.rules ?? [];
    const ruleProblem =
      ruleWithoutColumn(rules, this.columns.map((c) => c.name), `streams.${this.name}.rules`, this.ws.project.configFile) ??
      (await ruleTypeProblem(this.engine, rules, this.columns, `streams.${this.name}.rules`, this.ws.project.configFile));
    if (ruleProblem) throw ruleProblem;
    await this.engine.run(`ATTACH IF NOT EXISTS ':memory:' AS ${BATCH_DATABASE}`);
    this.loader = await this.engine.fork();
    // An empty batch: sinks learn their tables' columns from the models run over it.
    const empty = new BatchWriter(0).finish(this.scratchFile);
    const schema = await loadPreparedBatch(this.engine, empty, this.columns, this.config.rules ?? [], this.config.json, this.schemaTable);
    for (const sink of this.sinks) await sink.open(schema);
    await this.ws.metastore.commit(this.engine, { operation: 'lineage' }, async (tx) => {
      for (const [, sink] of Object.entries(this.config.sinks)) {
        for (const [table, config] of Object.entries(sink.tables)) {
          const statics = [...this.sinks].flatMap((s) => (s instanceof ModelSink ? [...s.staticRefs] : []));
          await tx.setLineage(table, [
            { name: config.model, kind: 'model' },
            { name: this.name, kind: 'stream' },
            ...statics.map((name) => ({ name, kind: 'table' as const })),
          ]);
        }
      }
    });
    await this.refreshPositions();
    this.status.state = 'running';
  }

  /**
   * After another worker committed records this one had read: what was read ahead is dropped, and
   * every sink's offsets (some may have committed the batch before the one that refused it) are
   * read again.
   */
  private async rejoin(): Promise<void> {
    await this.resumeFromCommitted();
    this.status.conflicts++;
  }

  /** Drops what was read ahead and reads every sink's committed offsets again: the next batch starts from them. */
  private async resumeFromCommitted(): Promise<void> {
    await this.takeAhead()?.catch(() => undefined);
    for (const sink of this.sinks) await sink.refresh();
    await this.refreshPositions();
  }

  /** Each partition restarts at the least advanced sink's offset; nothing is skipped. */
  private async refreshPositions(): Promise<void> {
    const positions = new Map<number, number>();
    const all = await Promise.all(this.sinks.map((s) => s.committed()));
    const partitions = new Set(all.flatMap((m) => [...m.keys()]));
    for (const p of partitions) positions.set(p, Math.min(...all.map((m) => m.get(p) ?? 0)));
    this.positions = positions;
  }

  /** Reads up to a batch from the positions into the next writer; nothing when the input has nothing. */
  private async read(positions: ReadonlyMap<number, number>, until?: AbortSignal): Promise<Read | undefined> {
    const writer = this.writers[this.nextWriter]!;
    this.nextWriter ^= 1;
    const started = performance.now();
    writer.reset();
    await this.input.read(positions, this.config.maxBatch, writer, until);
    return writer.count ? { writer, readMs: performance.now() - started } : undefined;
  }

  /** The batch read ahead, if any, asked for now: an input that follows hands over what it has. */
  private takeAhead(): Promise<Ahead | undefined> | undefined {
    const ahead = this.ahead;
    this.ahead = undefined;
    ahead?.until.abort();
    return ahead?.batch;
  }

  /** Writes a read batch to the scratch file: free for the next once this batch is loaded. */
  private prepare(read: Read): Prepared {
    const started = Date.now();
    const staging = performance.now();
    return { read, started, staging, prepared: read.writer.finish(this.scratchFile) };
  }

  /**
   * Has the loader type and judge a prepared batch into the batch table the sinks are not
   * reading. `ahead`: while they stage and commit the batch before, where background work keeps
   * the turn it had there.
   */
  private async load({ read, started, staging, prepared }: Prepared, table: string, ahead: boolean): Promise<LoadedBatch> {
    const loading = performance.now();
    const loader = this.loader!;
    const work = () => loadPreparedBatch(loader, prepared, this.columns, this.config.rules ?? [], this.config.json, table);
    const batch = await (ahead ? work() : loader.streamBatch(work));
    return { batch, prepared, started, durations: { read: wholeMs(read.readMs), stage: wholeMs(loading - staging), load: wholeMs(performance.now() - loading), sinks: {}, commit: 0 } };
  }

  /** Runs one micro-batch; returns how many events it committed (0 when there was nothing). */
  async step(): Promise<number> {
    const asked = performance.now();
    const ahead = await this.takeAhead();
    // Following the input, a read ahead waits for records: what the batch waited is from here.
    if (ahead && !ahead.loaded && this.input.follows) ahead.readMs = performance.now() - asked;
    const read: Ahead | undefined = ahead ?? (await this.read(this.positions));
    if (!read) {
      this.status.lag = await this.input.lag(this.positions);
      return 0;
    }
    const preparing = read.loaded ? undefined : this.prepare(read);
    const prepared = read.loaded?.prepared ?? preparing!.prepared;
    const after = new Map(this.positions);
    for (const [p, range] of prepared.ranges) after.set(p, Math.max(after.get(p) ?? 0, range.last + 1));
    // With a backlog, read the next batch while the engine loads and commits this one. Without
    // one, waiting lets the next batch take what arrives meanwhile; an input that follows takes
    // it as it arrives, so the next batch is ready when the engine is. Only now: an input may
    // take the positions of one read as committed by the next (the spool completes files so).
    let next: { batch: Promise<Read | undefined>; until: AbortController } | undefined;
    if (!this.stopping && (prepared.count >= this.config.maxBatch || this.input.follows)) {
      const until = new AbortController();
      next = { until, batch: this.read(after, until.signal).catch(() => undefined) };
    }
    // The first table unless the batch was loaded ahead: a live job's views keep reading the same table.
    const { batch, started, durations } = read.loaded ?? (await this.load(preparing!, this.batchTables[0], false));
    if (next) {
      // A full batch read ahead is loaded while this one stages and commits, into the other table.
      const other = this.batchTables[batch.table === this.batchTables[0] ? 1 : 0];
      const loaded = next.batch.then(async (r): Promise<Ahead | undefined> => (r && r.writer.count >= this.config.maxBatch && !this.stopping ? { ...r, loaded: await this.load(this.prepare(r), other, true) } : r));
      // Handled here too: a job whose commit fails never asks for it.
      loaded.catch(() => undefined);
      this.ahead = { until: next.until, batch: loaded };
    }
    const committing = this.commit(batch, durations);
    let tables: Set<string>;
    try {
      tables = await committing;
    } catch (error) {
      if (!(error instanceof OffsetConflict)) throw error;
      await this.rejoin();
      return 0;
    }
    const committedAt = Date.now();
    for (const t of prepared.timestamps) {
      const ms = committedAt - t;
      this.latency.add(ms);
      this.eventToCommit.add(ms / 1000);
    }
    this.positions = after;
    this.rate.add(batch.count, committedAt);
    this.status.batches++;
    this.status.events += batch.count;
    this.status.lastBatch = { events: batch.count, ms: committedAt - started, at: new Date(committedAt).toISOString(), durationMs: durations };
    this.status.lag = await this.input.lag(this.positions);
    for (const listener of this.listeners) listener({ job: this.name, events: batch.count, tables: [...tables] });
    return batch.count;
  }

  /**
   * Stages the batch in every sink, then commits it: the sinks whose stores commit in the
   * catalog's transaction (the lake, the warehouse, the dead letters) as one transaction, each
   * other sink in its store's own. Returns the tables that changed.
   */
  private async commit(batch: MicroBatch, durations: BatchDurations): Promise<Set<string>> {
    const staged: { sink: StreamSink; batch: StagedBatch }[] = [];
    try {
      await this.engine.streamBatch(async () => {
        for (const sink of this.sinks) {
          failpoint(`before-sink:${sink.name}`);
          const started = performance.now();
          staged.push({ sink, batch: await sink.stage(batch) });
          durations.sinks[sink.name] = wholeMs(performance.now() - started);
        }
      });
    } catch (error) {
      for (const s of staged) await s.batch.discard().catch(() => undefined);
      throw error;
    }
    const started = performance.now();
    const results = new Map<StreamSink, SinkCommit>();
    // One sink whose commit can carry others carries every sink that can write inside it.
    const carrier = staged.find((s) => s.batch.carries && !s.batch.writeIn) ?? staged.find((s) => s.batch.carries);
    const riders = carrier ? staged.filter((s) => s !== carrier && s.batch.writeIn) : [];
    const settled = new Set<StagedBatch>();
    try {
      for (const s of staged) {
        if (riders.includes(s)) continue;
        const alongside =
          s === carrier && riders.length
            ? async (tx: CatalogTransaction) => {
                for (const rider of riders) results.set(rider.sink, await rider.batch.writeIn!(tx));
              }
            : undefined;
        results.set(s.sink, await s.batch.commit(alongside));
        for (const done of s === carrier ? [s, ...riders] : [s]) {
          done.batch.settle();
          settled.add(done.batch);
        }
      }
    } catch (error) {
      // What a failed or later commit staged goes; the batch is read again from each sink's offsets.
      for (const s of staged) if (!settled.has(s.batch)) await s.batch.discard().catch(() => undefined);
      throw error;
    }
    durations.commit = wholeMs(performance.now() - started);
    const tables = new Set<string>();
    for (const { sink } of staged) {
      failpoint(`after-sink:${sink.name}`);
      const result = results.get(sink)!;
      const entry = this.status.sinks.find((s) => s.name === sink.name)!;
      for (const [table, n] of Object.entries(result.rows)) {
        entry.rows[table] = (entry.rows[table] ?? 0) + n;
        tables.add(table);
      }
      if (sink.kind === 'dead-letters') this.status.deadLetters += result.rows.dead_letters ?? 0;
      this.status.late += result.late;
    }
    return tables;
  }

  /**
   * Runs micro-batches until stopped: back to back while there is a backlog, else on the trigger.
   * A full disk is waited out, not a failure: the batch committed nothing, and once space is freed
   * the job goes on from the committed offsets by itself (retrying after 1, 2, 4 … 30 s, the
   * reason in its status meanwhile). Any other error stops the job.
   */
  start(): void {
    this.running = (async () => {
      let retryMs = 0;
      try {
        while (!this.stopping) {
          const started = Date.now();
          let n: number;
          try {
            n = await this.step();
          } catch (error) {
            if (this.stopping || !isDiskFull(errorMessage(error))) throw error;
            retryMs = Math.min(retryMs ? retryMs * 2 : 1000, 30_000);
            const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
            this.status.error = `${reason}\n  → the disk is full: the job tries again every ${retryMs / 1000} s until it has space (free space on the disk of the data folder); nothing of the batch was committed`;
            await delay(retryMs, undefined, { signal: this.stopped.signal }).catch(() => undefined);
            if (!this.stopping) await this.resumeFromCommitted();
            continue;
          }
          if (retryMs) [retryMs, this.status.error] = [0, null];
          if (this.stopping) break;
          // The trigger is an interval from one batch's start to the next (Spark's processing
          // time): counted from the commit instead, every event waited the trigger on top of the
          // commit, and at a steady rate a batch's latency was the two added.
          if (n === 0) await sleep(Math.max(this.config.triggerMs, 20));
          else if (n < this.config.maxBatch) await sleep(this.config.triggerMs - (Date.now() - started));
        }
        this.status.state = 'stopped';
      } catch (error) {
        this.status.state = 'failed';
        this.status.error = errorMessage(error);
      }
    })();
  }

  /**
   * Runs until the input has nothing more to give (for replays, tests and benchmarks). A broker
   * may answer an early poll with nothing while it assigns partitions, so "nothing more" means
   * an empty poll and no lag.
   */
  async drain(timeoutMs = 120_000): Promise<number> {
    let total = 0;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const n = await this.step();
      total += n;
      if (n === 0 && (await this.input.lag(this.positions)) === 0) return total;
    }
    throw new Error(`stream job ${this.name} did not drain within ${timeoutMs} ms (lag ${await this.input.lag(this.positions)})`);
  }

  /**
   * The group's committed offset per partition (the least advanced sink's: where the group
   * resumes), against the input's end offsets. Asked for by status and metrics, not per batch:
   * for a broker it is a request.
   */
  async groupOffsets(): Promise<GroupOffsets> {
    const committed = this.positions;
    const base = { group: this.group, job: this.name, input: this.status.input };
    try {
      const partitions = (await this.input.partitions()).map(({ partition, start, end }) => {
        const position = committed.get(partition);
        return { partition, committed: position ?? null, end, lag: Math.max(0, end - Math.max(position ?? start, start)) };
      });
      return { ...base, partitions, error: null };
    } catch (error) {
      return { ...base, partitions: [], error: errorMessage(error) };
    }
  }

  snapshot(): JobStatus {
    return {
      ...this.status,
      eventsPerSecond: Math.round(this.rate.perSecond()),
      latencyMs: { p50: this.latency.percentile(50), p99: this.latency.percentile(99) },
      eventToCommitSeconds: this.eventToCommit.snapshot(),
      sinks: this.status.sinks.map((s) => ({ ...s, rows: { ...s.rows } })),
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.running;
    await this.takeAhead()?.catch(() => undefined);
    for (const sink of this.sinks) await sink.close();
    await this.input.close();
    if (this.loader) {
      await this.loader.run(`DROP TABLE IF EXISTS ${this.batchTables[0]}; DROP TABLE IF EXISTS ${this.batchTables[1]}; DROP TABLE IF EXISTS ${this.schemaTable}`).catch(() => undefined);
      this.loader.close();
    }
    for (const file of [this.scratchFile, `${this.scratchFile}.refused`]) rmSync(file, { force: true });
  }
}

/** The in-memory database of the engine's batch tables: every connection of the instance sees it, no file holds it. */
const BATCH_DATABASE = 'tributary_stream';

/** A batch read into a writer. */
interface Read {
  writer: BatchWriter;
  readMs: number;
}

/** A batch written to the scratch file, with when that started. */
interface Prepared {
  read: Read;
  started: number;
  staging: number;
  prepared: PreparedBatch;
}

/** A batch typed and judged into its table, ready for the sinks. */
interface LoadedBatch {
  batch: MicroBatch;
  prepared: PreparedBatch;
  started: number;
  durations: BatchDurations;
}

/** A batch read ahead, and loaded too when it filled a batch. */
type Ahead = Read & { loaded?: LoadedBatch };

function wholeMs(value: number): number {
  return Math.round(value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
