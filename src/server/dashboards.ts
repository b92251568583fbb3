import { dashboardSchema, type Dashboard, type Tile } from '../config/config.js';
import { TributaryError } from '../core/errors.js';
import { describeIssues, problemsText } from '../core/issues.js';
import { importDefault, type Project } from '../config/project.js';
import type { Engine } from '../engine/index.js';

export type FilterValues = Record<string, string | null>;

export interface TileData {
  id: string;
  kind: Tile['kind'];
  columns: string[];
  rows: Record<string, unknown>[];
  ms: number;
  error?: string;
  /** Set instead of an error when the tile reads a table that nothing has written yet: who will. */
  pending?: string;
}

/**
 * `seq` orders snapshots: one taken later reads data at least as fresh, so a viewer keeps, per
 * tile, the highest it has seen and drops a reply that was overtaken on the way.
 */
export type LiveEvent = { type: 'tiles'; tiles: TileData[]; at: string; seq: number };

/**
 * Whose rows a computation reads. Without one (the admin) tiles run as written; with one (a
 * client), every tile and filter query runs as `confine` rewrites it, and viewers share a
 * computation only with viewers of the same `key`.
 */
export interface TileScope {
  key: string;
  confine(sql: string): Promise<string>;
}

/** What a client sees of a tile its scope refuses: not the refusal, which would name what it cannot see. */
const OUTSIDE_SCOPE = 'this tile reads data outside your access';

interface Group {
  dashboard: string;
  filters: FilterValues;
  scope: TileScope | undefined;
  clients: Set<(event: LiveEvent) => void>;
  /** Viewers that joined and still wait for their first snapshot. */
  joining: Set<(event: LiveEvent) => void>;
}

/**
 * How long a push waits after the first commit it answers, so that commits landing together cost
 * one recompute. The wait adds to every live number's delay, and a stream batch is one commit: at
 * 150 ms, in the dashboards bench's event to pixel at 10,000 events/s, the time from a batch's
 * commit to the push's first query was p50 150 ms; with this wait, 26 ms.
 */
export const PUSH_COALESCE_MS = 25;

const PARAM = /\$([a-z_][a-z0-9_]*)/g;
/** The engine's words for a table that does not exist (yet). */
const MISSING_TABLE = /Table with name "?([^\s"!]+)"? does not exist/;

/** Reads and validates every dashboard file a project declares. */
export async function loadDashboards(project: Project): Promise<Map<string, Dashboard>> {
  const out = new Map<string, Dashboard>();
  for (const [name, file] of Object.entries(project.config.dashboards)) {
    const path = project.resolvePath(file);
    let exported: unknown;
    try {
      exported = await importDefault(path);
    } catch (error) {
      throw new TributaryError(`the dashboard file could not be loaded: ${(error as Error).message}`, { place: { file: path }, hint: 'it must `export default defineDashboard({...})`' });
    }
    const parsed = dashboardSchema.safeParse(exported);
    if (!parsed.success) {
      const problems = describeIssues(parsed.error.issues, exported);
      throw new TributaryError(problemsText(problems, `dashboard '${name}'`), {
        place: { file: path, field: problems.length === 1 ? problems[0]!.key || undefined : undefined },
        hint: 'see the DashboardConfig type (your editor shows it when the file uses defineDashboard), or the README’s Dashboards section for a complete file',
      });
    }
    out.set(name, parsed.data);
  }
  return out;
}

/**
 * Computes dashboard tiles and keeps open dashboards live. Viewers with the same dashboard,
 * filters and scope form one group: when a commit changes tables, each affected tile is computed
 * once per group and pushed to every viewer in it, so the query count per commit grows with the
 * number of distinct scopes watching, not with the number of people.
 */
export class DashboardHub {
  private readonly groups = new Map<string, Group>();
  private readonly tileTables = new Map<string, Set<string>>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** Tile queries run since start: what the fan-out benchmark watches. */
  queries = 0;
  /** Commits that changed tables since start. */
  commits = 0;
  private seq = 0;

  constructor(
    private readonly reader: Engine,
    readonly dashboards: Map<string, Dashboard>,
    private readonly debounceMs = PUSH_COALESCE_MS,
    /** Who first writes a table of the project (the owner's `firstWriters`), for tiles that read it before then. */
    private readonly firstWriter: (table: string) => string | undefined = () => undefined,
  ) {
    // Parsed once, here, before any query runs on the reader connection: parsing on a connection
    // while another request's query runs on it is not safe.
    for (const [name, dashboard] of dashboards) {
      for (const tile of dashboard.tabs.flatMap((t) => t.tiles)) {
        this.tileTables.set(`${name}/${tile.id}`, new Set(reader.tableNames(tile.sql).map((t) => t.toLowerCase())));
      }
    }
  }

  get(name: string): Dashboard {
    const dashboard = this.dashboards.get(name);
    if (!dashboard) throw new TributaryError(`no dashboard '${name}'`, { hint: `dashboards: ${[...this.dashboards.keys()].join(', ') || '(none)'}` });
    return dashboard;
  }

  private tiles(name: string): Tile[] {
    return this.get(name).tabs.flatMap((t) => t.tiles);
  }

  /** Tables a tile reads, from DuckDB's own parser. */
  private tablesOf(dashboard: string, tile: Tile): Set<string> {
    return this.tileTables.get(`${dashboard}/${tile.id}`)!;
  }

  async compute(name: string, filters: FilterValues, only?: Set<string>, scope?: TileScope): Promise<LiveEvent> {
    const seq = ++this.seq;
    const tiles: TileData[] = [];
    for (const tile of this.tiles(name)) {
      if (only && !only.has(tile.id)) continue;
      tiles.push(await this.computeTile(tile, filters, scope));
    }
    return { type: 'tiles', tiles, at: new Date().toISOString(), seq };
  }

  private async computeTile(tile: Tile, filters: FilterValues, scope: TileScope | undefined): Promise<TileData> {
    const params: Record<string, string | null> = {};
    for (const match of tile.sql.matchAll(PARAM)) params[match[1]!] = filters[match[1]!] ?? null;
    const started = Date.now();
    let sql = tile.sql;
    if (scope) {
      try {
        sql = await scope.confine(tile.sql);
      } catch {
        return { id: tile.id, kind: tile.kind, columns: [], rows: [], ms: Date.now() - started, error: OUTSIDE_SCOPE };
      }
    }
    this.queries++;
    try {
      const rows = await this.reader.queryJson(sql, Object.keys(params).length ? params : undefined);
      return { id: tile.id, kind: tile.kind, columns: Object.keys(rows[0] ?? {}), rows, ms: Date.now() - started };
    } catch (error) {
      const message = (error as Error).message;
      const missing = MISSING_TABLE.exec(message)?.[1];
      const writer = missing === undefined ? undefined : this.firstWriter(missing);
      if (writer) return { id: tile.id, kind: tile.kind, columns: [], rows: [], ms: Date.now() - started, pending: `no data yet: ${missing} is written by ${writer}` };
      return { id: tile.id, kind: tile.kind, columns: [], rows: [], ms: Date.now() - started, error: message.split('\n')[0] };
    }
  }

  async options(name: string, filter: string, scope?: TileScope): Promise<string[]> {
    const spec = this.get(name).filters.find((f) => f.id === filter);
    if (!spec?.options) return [];
    // A client's choices come from its rows too: the list of every brand is other brands' data.
    const sql = scope ? await scope.confine(spec.options).catch(() => undefined) : spec.options;
    if (sql === undefined) return [];
    const rows = await this.reader.query<Record<string, unknown>>(sql);
    return rows.map((r) => String(Object.values(r)[0]));
  }

  /**
   * Adds a viewer and sends it a snapshot of every tile. The snapshot is taken after joining and
   * queued behind pushes already scheduled, so no commit can fall between what the viewer was
   * shown and the first push it receives. Viewers joining together share one snapshot.
   */
  subscribe(dashboard: string, filters: FilterValues, client: (event: LiveEvent) => void, scope?: TileScope): () => void {
    this.get(dashboard);
    const key = JSON.stringify([dashboard, Object.entries(filters).filter(([, v]) => v !== null && v !== '').sort(), scope?.key ?? null]);
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { dashboard, filters, scope, clients: new Set(), joining: new Set() }));
    group.clients.add(client);
    group.joining.add(client);
    if (group.joining.size === 1) {
      const joined = group;
      this.running = this.running
        .then(async () => {
          const viewers = [...joined.joining];
          joined.joining.clear();
          const snapshot = await this.compute(dashboard, filters, undefined, scope);
          for (const viewer of viewers) if (joined.clients.has(viewer)) viewer(snapshot);
        })
        .catch(() => undefined);
    }
    return () => {
      group!.clients.delete(client);
      group!.joining.delete(client);
      if (!group!.clients.size) this.groups.delete(key);
    };
  }

  get viewers(): number {
    return [...this.groups.values()].reduce((n, g) => n + g.clients.size, 0);
  }

  /** Called on every commit; coalesces bursts of commits into one recompute. */
  tablesChanged(tables: string[]): void {
    this.commits++;
    for (const t of tables) this.pending.add(t.toLowerCase());
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const changed = this.pending;
      this.pending = new Set();
      this.running = this.running.then(() => this.push(changed)).catch(() => undefined);
    }, this.debounceMs);
  }

  private async push(changed: Set<string>): Promise<void> {
    for (const group of this.groups.values()) {
      const affected = new Set(this.tiles(group.dashboard).filter((t) => [...this.tablesOf(group.dashboard, t)].some((x) => changed.has(x))).map((t) => t.id));
      if (!affected.size || !group.clients.size) continue;
      const event = await this.compute(group.dashboard, group.filters, affected, group.scope);
      for (const client of group.clients) client(event);
    }
  }

  /** Resolves when pushes scheduled so far have been sent. */
  async settled(): Promise<void> {
    while (this.timer) await new Promise((r) => setTimeout(r, this.debounceMs));
    await this.running;
  }
}
