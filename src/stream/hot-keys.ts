import type { TopicConfig } from '../config/config.js';
import { errorMessage } from '../core/errors.js';
import { quoteIdent, type Engine } from '../engine/index.js';
import type { Log } from '../log/index.js';
import { queryableTables, type Workspace } from '../state/workspace.js';

type LearnedHotKeys = Exclude<NonNullable<TopicConfig['hotKeys']>, readonly string[]>;

/** A key's weight in the table hot keys are learned from. */
export interface KeyShare {
  key: string;
  rows: number;
  share: number;
}

/**
 * Hot keys learned from the catalog: for each topic declared with `hotKeys: { from: { table,
 * column }, share, max }`, the values of the column that carry at least `share` of the table's
 * rows (the `max` largest, and fewer than the topic's partitions) get a partition each, at start
 * and again after every commit that changes the table.
 *
 * The catalog's per-file statistics hold each column's min and max, not how often each value
 * occurs, and the lake's files are partitioned by time, each holding many keys, so they cannot
 * say which keys are hot. The detector counts instead: one GROUP BY over one column, which
 * DuckDB answers from that column alone (Parquet projection; a few hundred ms for tens of
 * millions of rows), once at start and once per commit of the table (a daily load).
 */
export class HotKeyDetector {
  private running: Promise<void> = Promise.resolve();
  /** Topics whose count waits for the one running: commits meanwhile need no count of their own. */
  private readonly waiting = new Set<string>();
  private readonly topics: [string, LearnedHotKeys][];

  /** `engine` is a connection of the detector's own. */
  constructor(
    private readonly ws: Workspace,
    private readonly log: Log,
    private readonly engine: Engine,
    private readonly say: (message: string) => void,
  ) {
    this.topics = learnedTopics(ws);
  }

  /** Whether any topic of the project learns its hot keys. */
  static needed(ws: Workspace): boolean {
    return learnedTopics(ws).length > 0;
  }

  /** Learns every topic's hot keys now. */
  detect(): Promise<void> {
    return this.queue(this.topics);
  }

  /** Learns again whenever a commit changes a table hot keys come from; returns the unsubscriber. */
  watch(): () => void {
    return this.ws.metastore.onCommit((committed) => {
      const changed = this.topics.filter(([, learned]) => committed.tables.includes(learned.from.table));
      if (changed.length) void this.queue(changed);
    });
  }

  /** Resolves once every detection asked for so far has finished. */
  settled(): Promise<void> {
    return this.running;
  }

  /** One detection at a time, and at most one waiting per topic: commits may come faster than a count. */
  private queue(topics: [string, LearnedHotKeys][]): Promise<void> {
    const due = topics.filter(([topic]) => !this.waiting.has(topic));
    for (const [topic] of due) this.waiting.add(topic);
    this.running = this.running.then(async () => {
      for (const [topic, learned] of due) {
        this.waiting.delete(topic);
        try {
          await this.detectTopic(topic, learned);
        } catch (error) {
          // The topic keeps the keys it has: a failed count must not stop the stream.
          this.say(`topic ${topic}: hot keys not learned from ${learned.from.table}.${learned.from.column}: ${errorMessage(error)}`);
        }
      }
    });
    return this.running;
  }

  private async detectTopic(name: string, learned: LearnedHotKeys): Promise<void> {
    const topic = this.log.topic(name);
    const { table, column } = learned.from;
    if (!(await queryableTables(this.engine)).has(table.toLowerCase())) {
      this.say(`topic ${name}: table ${table} does not exist yet; hot keys stay ${describeKeys(topic.hotKeys)} until it is built`);
      return;
    }
    const most = Math.min(learned.max, topic.partitions.length - 1);
    const shares = await keyShares(this.engine, table, column, most);
    const chosen = shares.filter((s) => s.share >= learned.share);
    const changed = topic.setHotKeys(chosen.map((s) => s.key));
    const listed = chosen.length ? chosen.map((s) => `${s.key} (${(s.share * 100).toFixed(1)} %)`).join(', ') : 'none';
    const source = `${table}.${column}, keys with at least ${(learned.share * 100).toFixed(1)} % of its rows, at most ${most}`;
    this.say(
      changed
        ? `topic ${name}: hot keys ${listed} from ${source}; each has a partition of its own from the next record on (partitions ${topic.hotKeys.map((_, i) => i).join(', ') || '-'})`
        : `topic ${name}: hot keys unchanged: ${listed} from ${source}`,
    );
  }
}

/** The `most` commonest values of a column (as text), with their share of the table's rows. */
export async function keyShares(engine: Engine, table: string, column: string, most: number): Promise<KeyShare[]> {
  const rows = await engine.query<{ key: string; n: bigint; total: bigint }>(
    `SELECT key, n, total FROM (
       SELECT CAST(${quoteIdent(column)} AS VARCHAR) AS key, count(*) AS n, sum(count(*)) OVER () AS total
       FROM ${quoteIdent(table)} GROUP BY ALL)
     WHERE key IS NOT NULL ORDER BY n DESC, key LIMIT ${Math.max(0, Math.floor(most))}`,
  );
  return rows.map((r) => ({ key: r.key, rows: Number(r.n), share: Number(r.n) / Number(r.total) }));
}

function learnedTopics(ws: Workspace): [string, LearnedHotKeys][] {
  return Object.entries(ws.project.config.topics).flatMap(([name, topic]): [string, LearnedHotKeys][] =>
    topic.hotKeys && !Array.isArray(topic.hotKeys) ? [[name, topic.hotKeys]] : [],
  );
}

function describeKeys(keys: readonly string[]): string {
  return keys.length ? keys.join(', ') : 'none';
}
