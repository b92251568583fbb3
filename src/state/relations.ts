import type { Metastore, TableInfo } from '../catalog/index.js';
import type { Engine } from '../engine/index.js';
import type { Lake } from '../lake/index.js';

type ViewSource = Pick<TableInfo, 'name' | 'kind' | 'partition_by' | 'definition'>;

/**
 * The engine's views of the catalog's tables, as each process derives them from the catalog: a
 * lake table's view over exactly its live files, a model's view and a crawled table's view from
 * the SQL the catalog keeps. They follow every commit (this process's, and with a shared catalog
 * every other process's too), so that whoever hears of a commit reads what it committed.
 */
export class Relations {
  /**
   * Tables this process has seen to have no derived view of their name. Views are this process's
   * own (or, embedded, its database's, which no other process has open), so one look is enough
   * until the table becomes derived: a stream's commits then skip a lookup per table.
   */
  private readonly viewless = new Set<string>();
  /**
   * Views this process made from the catalog's SQL. One whose table leaves the catalog (a dbt hook
   * dropped it, in this process or another sharing the catalog) is dropped here too; any other
   * name a commit notes without a table (dead letters) is no view of the catalog's and is left.
   */
  private readonly defined = new Set<string>();

  constructor(
    /** A connection of its own: a commit's followers must not wait behind a long query. */
    private readonly engine: Engine,
    private readonly metastore: Metastore,
    private readonly lake: Lake,
  ) {}

  /** Brings the views of `names` (every table when absent) in line with the catalog; returns the views that could not be made, with why. */
  async refresh(names?: readonly string[]): Promise<{ table: string; error: string }[]> {
    const tables = await this.metastore.viewSources(names);
    const listed = new Set(tables.map((t) => t.name));
    for (const name of names ?? []) {
      if (!listed.has(name) && this.defined.delete(name)) await this.metastore.write(() => this.engine.dropView(name));
    }
    for (const table of tables.filter((t) => derived(t))) this.viewless.delete(table.name);
    for (const table of tables.filter((t) => t.kind === 'lake')) await this.lake.refreshView(this.engine, table.name, table.partition_by);
    for (const table of tables.filter((t) => !derived(t) && !this.viewless.has(t.name))) {
      await this.metastore.write(() => this.engine.dropView(table.name));
      this.defined.delete(table.name);
      this.viewless.add(table.name);
    }
    return this.defineViews(tables.filter((t) => derived(t) && t.kind !== 'lake' && t.definition !== null));
  }

  /**
   * Views read other views: each is made once what it reads exists, so the views are made in
   * rounds until a round makes none; what is left could not be made (it reads what is gone).
   */
  private async defineViews(views: ViewSource[]): Promise<{ table: string; error: string }[]> {
    let pending = views;
    let failures: { table: string; error: string }[] = [];
    while (pending.length) {
      failures = [];
      const next: ViewSource[] = [];
      for (const view of pending) {
        try {
          // A crawled table's view reads files only: while its SQL is the same, so is the view.
          await this.metastore.write(() => this.engine.defineView(view.name, view.definition!, { keepSame: view.kind === 'external' }));
          this.defined.add(view.name);
        } catch (error) {
          failures.push({ table: view.name, error: (error as Error).message.split('\n')[0]! });
          next.push(view);
        }
      }
      if (next.length === pending.length) break;
      pending = next;
    }
    return failures;
  }
}

/** Tables this process reads through a view it makes: lake tables, models' views, crawled files. */
function derived(table: ViewSource): boolean {
  return table.kind === 'lake' || table.kind === 'view' || table.kind === 'external';
}
