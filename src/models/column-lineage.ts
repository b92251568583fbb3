import { dayInterval, isoDay } from '../core/interval.js';
import { declaredColumns } from '../core/schemas.js';
import { parseSqlTree, printSqlTree, quoteIdent, type SqlNode } from '../engine/index.js';
import type { ProjectPlan } from './plan.js';

type Node = SqlNode;

/**
 * How a column's values come from its upstream columns: passed through (under its name or
 * another), computed (an expression, an aggregate, a window, a constant), or not known because a
 * part of the query could not be followed (a table function, COLUMNS(…), a name no relation has).
 */
export type Derivation = 'copy' | 'transform' | 'unknown';

/** A column of what a model reads: a model, a table, or a source as `source:<name>`. */
export interface UpstreamColumn {
  relation: string;
  column: string;
}

export interface ColumnOrigin {
  /** The output column; `*` stands for the columns of a `*` whose relation's columns are not known. */
  column: string;
  from: UpstreamColumn[];
  how: Derivation;
}

export interface ModelColumns {
  model: string;
  columns: ColumnOrigin[];
  /** Why no columns are known: the SQL does not parse as one query. */
  problem?: string;
}

/** What the analysis asks of the engine: its parser. Nothing is bound or run, so no upstream table need exist. */
export interface SqlParser {
  query<R>(sql: string, params?: string[]): Promise<R[]>;
}

/**
 * The columns of each model of the plan and the upstream columns each derives from, one hop: a
 * column of `customers` derives from columns of the relations `customers` reads, not from their
 * sources in turn. Read off DuckDB's own parse tree of each model's SQL, references resolved,
 * in dependency order, so a `*` over a model expands to the columns its own SQL gives, even
 * before it is built. `tableColumns` gives the columns a table has now (the engine's catalog),
 * for what no SQL of the project describes: external tables, sources whose columns are inferred,
 * and a `*` over such a relation in the model's own result.
 */
export async function columnLineage(parser: SqlParser, plan: ProjectPlan, tableColumns: (table: string) => readonly string[] | undefined): Promise<Map<string, ModelColumns>> {
  const out = new Map<string, ModelColumns>();
  // Interval placeholders only place rows in time; any day gives the same columns.
  const interval = dayInterval(isoDay(Date.now()));
  for (const model of plan.order) {
    const placeholders = new Map(model.sources.map((s) => [sourcePlaceholder(s).toLowerCase(), s]));
    // A ref stays a name (an ephemeral model too): lineage stops at what the model reads.
    const sql = plan.sql(model, (kind, name) => quoteIdent(kind === 'source' ? sourcePlaceholder(name) : name), interval);
    const tree = await parseSqlTree(parser, sql);
    const root = tree.statements?.length === 1 ? tree.statements[0]!.node : undefined;
    if (tree.error || !root) {
      out.set(model.name, { model: model.name, columns: [], problem: String(tree.error_message ?? 'the SQL is not one query') });
      continue;
    }
    const upstream = (table: string): Relation => {
      const source = placeholders.get(table);
      if (source !== undefined) return upstreamRelation(`source:${source}`, sourceColumns(plan, source) ?? tableColumns(sourcePlaceholder(source)));
      const built = out.get(table);
      const known = built && !built.problem && !built.columns.some((c) => c.column === '*') ? built.columns.map((c) => c.column) : undefined;
      return upstreamRelation(table, known ?? tableColumns(table));
    };
    const analysis = new Analysis(await expressionNames(parser, root), upstream);
    let result: Relation;
    try {
      result = analysis.query(root, new Map(), undefined);
      const partitionBy = Object.entries(model.config.partitionBy ?? {});
      if (partitionBy.length) result = await withPartitions(parser, analysis, result, partitionBy);
    } catch (error) {
      // A tree of a shape the analysis does not expect costs this model its columns, not the others theirs.
      out.set(model.name, { model: model.name, columns: [], problem: (error as Error).message });
      continue;
    }
    out.set(model.name, { model: model.name, columns: outputColumns(result, tableColumns(model.table)) });
  }
  return out;
}

/**
 * A lake table's columns as the lake writes them: each partition key computed over the model's
 * rows, after the other columns; a key named like a column of the model takes its place.
 */
async function withPartitions(parser: SqlParser, analysis: Analysis, result: Relation, partitionBy: readonly [string, string][]): Promise<Relation> {
  const model = '__model';
  const tree = await parseSqlTree(parser, `SELECT ${partitionBy.map(([name, expression]) => `${expression} AS ${quoteIdent(name)}`).join(', ')} FROM ${model}`);
  const root = tree.statements?.length === 1 ? tree.statements[0]!.node : undefined;
  if (tree.error || !root) return result;
  const keys = analysis.query(root, new Map([[model, result]]), undefined);
  const replaced = new Set(partitionBy.map(([name]) => name.toLowerCase()));
  return assembled([...result.columns.filter((c) => !replaced.has(c.name.toLowerCase())), ...keys.columns], [result]);
}

/** How a source is named in the SQL analysed: as a run names its loaded rows. */
function sourcePlaceholder(source: string): string {
  return `__source_${source}`;
}

/** A source's declared columns (a stream's, for the source a stream binds); undefined when inferred from its files. */
function sourceColumns(plan: ProjectPlan, source: string): string[] | undefined {
  const config = plan.project.config;
  const declared = config.sources[source]?.columns ?? Object.values(config.streams).find((s) => s.binds === source)?.columns;
  return declared && declaredColumns(declared).map((c) => c.name);
}

/** The model's columns as the analysis found them; a `*` it could not expand takes the columns the model's table has. */
function outputColumns(result: Relation, actual: readonly string[] | undefined): ColumnOrigin[] {
  const columns = result.open && actual ? actual.map((name) => named(name, result.lookup(name.toLowerCase()) ?? UNKNOWN)) : result.columns;
  return columns.map((c) => ({ column: c.name, from: [...c.from].map(splitKey), how: c.how }));
}

// ---------------------------------------------------------------------------------------------
// The analysis: relations (what a FROM item, a CTE or a query yields) and the columns they carry.

interface Derived {
  /** Upstream columns as `relation \0 column`, in the order met. */
  from: ReadonlySet<string>;
  how: Derivation;
}

interface Column extends Derived {
  name: string;
}

interface Relation {
  /** Its columns in order; when `open`, a `*` entry stands where columns are not known. */
  columns: Column[];
  /** Some of its columns are not listed (a `*` over a relation whose columns are not known). */
  open: boolean;
  /** A column by its lower-case name, listed or not; undefined when the relation has none of that name. */
  lookup(name: string): Derived | undefined;
  /**
   * A column it may have beyond those listed: a name a valid query reads that no relation lists
   * is taken to be this one's. A source's declared columns leave out its hive partition columns,
   * and the catalog's columns of a table may be older than the query.
   */
  beyond?(name: string): Derived;
}

/** A relation in a FROM clause, by the name its columns are qualified with. */
interface Binding {
  alias: string;
  relation: Relation;
  /** Columns a `*` leaves out: the right side's copy of a USING or NATURAL join's columns. */
  hidden: ReadonlySet<string>;
}

interface Scope {
  bindings: Binding[];
  /** A USING or NATURAL join's columns, as an unqualified name reads them. */
  using: Map<string, Derived>;
  /** Aliases of the SELECT list met so far: DuckDB lets a later item name them. */
  aliases: Map<string, Derived>;
  /** The query around a subquery, for correlated names. */
  outer: Scope | undefined;
}

const UNKNOWN: Derived = { from: new Set(), how: 'unknown' };
const KEY_SEPARATOR = '\u0000';

function key(relation: string, column: string): string {
  return `${relation}${KEY_SEPARATOR}${column}`;
}

function splitKey(text: string): UpstreamColumn {
  const at = text.indexOf(KEY_SEPARATOR);
  return { relation: text.slice(0, at), column: text.slice(at + 1) };
}

/** Several derivations as one value computed from them all (`how` when every part is known). */
function combine(parts: readonly Derived[], how: Derivation): Derived {
  return { from: new Set(parts.flatMap((p) => [...p.from])), how: parts.some((p) => p.how === 'unknown') ? 'unknown' : how };
}

/** A derivation under a name (a column met under another name is copied, not renamed in place). */
function named(name: string, derived: Derived): Column {
  return { name, from: derived.from, how: derived.how };
}

/** The listed column of a lower-case name (not a `*` entry). */
function listed(columns: readonly Column[], name: string): Column | undefined {
  return columns.find((c) => c.name !== '*' && c.name.toLowerCase() === name);
}

function closed(columns: Column[]): Relation {
  return { columns, open: false, lookup: (name) => listed(columns, name) };
}

/** What the model reads: each column derives from itself; with no columns known, any name is taken as one of them. */
function upstreamRelation(relation: string, columns: readonly string[] | undefined): Relation {
  const itself = (name: string): Derived => ({ from: new Set([key(relation, name)]), how: 'copy' });
  if (columns) return { ...closed(columns.map((name) => named(name, itself(name)))), beyond: itself };
  return {
    columns: [{ name: '*', from: new Set([key(relation, '*')]), how: 'copy' }],
    open: true,
    lookup: itself,
  };
}

/** A relation nothing is known of: a table function, a PIVOT. */
function unknownRelation(): Relation {
  return { columns: [named('*', UNKNOWN)], open: true, lookup: () => UNKNOWN };
}

/** A relation whose first columns take new names: `t(a, b)`, `WITH c(a, b) AS`. */
function renamed(relation: Relation, names: readonly string[] | undefined): Relation {
  if (!names?.length) return relation;
  const columns = relation.columns.map((c, i) => (i < names.length && c.name !== '*' ? { ...c, name: names[i]! } : c));
  const lower = new Set(relation.columns.slice(0, names.length).map((c) => c.name.toLowerCase()));
  const passes = (name: string) => !lower.has(name);
  return {
    columns,
    open: relation.open,
    lookup: (name) => listed(columns, name) ?? (relation.open && passes(name) ? relation.lookup(name) : undefined),
    ...(relation.beyond && { beyond: (name: string) => (passes(name) ? relation.beyond!(name) : UNKNOWN) }),
  };
}

/**
 * A relation of listed columns and of parts that may hold more (a `*` over a relation whose
 * columns are not all known): open when a part is, and open to columns beyond its list when
 * exactly one part is.
 */
function assembled(columns: Column[], parts: readonly Relation[]): Relation {
  const open = parts.filter((p) => p.open);
  const extendable = parts.filter((p) => p.beyond);
  return {
    columns,
    open: open.length > 0,
    lookup: (name) => listed(columns, name) ?? open.map((p) => p.lookup(name)).find(Boolean),
    ...(extendable.length === 1 && { beyond: extendable[0]!.beyond }),
  };
}

/** A struct's field is computed from the column that holds it. */
function field(column: Derived, nested: boolean): Derived {
  return nested && column.how === 'copy' ? { from: column.from, how: 'transform' } : column;
}

const lowerAll = (names: unknown): string[] => (Array.isArray(names) ? names.map((n) => String(n).toLowerCase()) : []);

class Analysis {
  constructor(
    /** The name DuckDB gives an unaliased SELECT item that is not a column. */
    private readonly names: ReadonlyMap<Node, string>,
    /** A table name in FROM that is no CTE in scope. */
    private readonly table: (name: string) => Relation,
  ) {}

  query(node: Node, ctes: ReadonlyMap<string, Relation>, outer: Scope | undefined): Relation {
    const inScope = this.ctes(node, ctes, outer);
    switch (node.type) {
      case 'SELECT_NODE':
        return this.select(node, inScope, outer);
      case 'SET_OPERATION_NODE':
        return this.setOperation(String(node.setop_type), this.query(node.left as Node, inScope, outer), this.query(node.right as Node, inScope, outer));
      case 'RECURSIVE_CTE_NODE': {
        // The recursive part reads the CTE itself: its columns are the anchor's.
        const anchor = renamed(this.query(node.left as Node, inScope, outer), node.aliases as string[]);
        const recursive = new Map(inScope).set(String(node.cte_name).toLowerCase(), anchor);
        return this.setOperation('UNION', anchor, this.query(node.right as Node, recursive, outer));
      }
      default:
        return unknownRelation();
    }
  }

  /** The CTEs a query node declares, each seeing those before it (not itself, unless recursive). */
  private ctes(node: Node, ctes: ReadonlyMap<string, Relation>, outer: Scope | undefined): ReadonlyMap<string, Relation> {
    const entries = (node.cte_map as { map?: { key: string; value: { aliases?: string[]; query: { node: Node } } }[] } | undefined)?.map ?? [];
    let scope = ctes;
    for (const entry of entries) {
      const relation = renamed(this.query(entry.value.query.node, scope, outer), entry.value.aliases);
      scope = new Map(scope).set(entry.key.toLowerCase(), relation);
    }
    return scope;
  }

  private setOperation(kind: string, left: Relation, right: Relation): Relation {
    // EXCEPT and INTERSECT keep left rows: the right side only filters.
    if (kind !== 'UNION' && kind !== 'UNION_BY_NAME') return left;
    const union = (a: Derived | undefined, b: Derived | undefined): Derived => {
      const parts = [a ?? UNKNOWN, b ?? UNKNOWN];
      return combine(parts, parts.every((p) => p.how === 'copy') ? 'copy' : 'transform');
    };
    const listed = (r: Relation) => r.columns.filter((c) => c.name !== '*');
    if (kind === 'UNION_BY_NAME') {
      const names = [...new Map([...listed(left), ...listed(right)].map((c) => [c.name.toLowerCase(), c.name])).values()];
      // A column one side lacks is NULL on that side's rows: it derives from the other side alone.
      const columns = names.map((name) => {
        const [a, b] = [left.lookup(name.toLowerCase()), right.lookup(name.toLowerCase())];
        return named(name, a && b ? union(a, b) : (a ?? b)!);
      });
      const open = left.open || right.open;
      return { columns: open ? [...columns, named('*', UNKNOWN)] : columns, open, lookup: (name) => columns.find((c) => c.name.toLowerCase() === name) ?? (open ? UNKNOWN : undefined) };
    }
    // By position: names from the left, as far as both sides' columns are listed.
    if (left.open || right.open) {
      const prefix = (r: Relation) => {
        const star = r.columns.findIndex((c) => c.name === '*');
        return star < 0 ? r.columns.length : star;
      };
      const columns = left.columns.slice(0, Math.min(prefix(left), prefix(right))).map((c, i) => named(c.name, union(c, right.columns[i])));
      return { columns: [...columns, named('*', UNKNOWN)], open: true, lookup: (name) => columns.find((c) => c.name.toLowerCase() === name) ?? UNKNOWN };
    }
    return closed(left.columns.map((c, i) => named(c.name, union(c, right.columns[i]))));
  }

  private select(node: Node, ctes: ReadonlyMap<string, Relation>, outer: Scope | undefined): Relation {
    const scope: Scope = { ...this.from(node.from_table as Node | null, ctes, outer), aliases: new Map(), outer };
    const columns: Column[] = [];
    const parts: Relation[] = [];
    for (const item of (node.select_list as Node[] | undefined) ?? []) {
      if (item.class === 'STAR') {
        const star = this.star(item, scope, ctes);
        columns.push(...star.columns);
        parts.push(star);
        continue;
      }
      const derived = this.expression(item, scope, ctes);
      const name = String(item.alias || (item.class === 'COLUMN_REF' ? (item.column_names as string[]).at(-1) : (this.names.get(item) ?? '(expression)')));
      columns.push(named(name, derived));
      if (item.alias) scope.aliases.set(name.toLowerCase(), derived);
    }
    return assembled(columns, parts);
  }

  /** `*`, `t.*`, with EXCLUDE, REPLACE and RENAME; COLUMNS(…) is not followed. */
  private star(item: Node, scope: Scope, ctes: ReadonlyMap<string, Relation>): Relation {
    if (item.columns) return unknownRelation();
    const qualifier = String(item.relation_name ?? '').toLowerCase();
    const bindings = qualifier ? scope.bindings.filter((b) => b.alias === qualifier) : scope.bindings;
    if (!bindings.length) return unknownRelation();
    const excluded = (binding: Binding, name: string) =>
      ((item.exclude_list as unknown[] | undefined) ?? []).some((e) => (typeof e === 'string' ? e : String((e as { column?: unknown }).column)).toLowerCase() === name) ||
      ((item.qualified_exclude_list as { table?: string; column: string }[] | undefined) ?? []).some((e) => e.column.toLowerCase() === name && (!e.table || e.table.toLowerCase() === binding.alias));
    const replaced = new Map(((item.replace_list as { key: string; value: Node }[] | undefined) ?? []).map((r) => [r.key.toLowerCase(), this.expression(r.value, scope, ctes)]));
    const renames = new Map(((item.rename_list as { key: { column: string }; value: string }[] | undefined) ?? []).map((r) => [r.key.column.toLowerCase(), r.value]));
    const columns: Column[] = [];
    for (const binding of bindings) {
      for (const column of binding.relation.columns) {
        const name = column.name.toLowerCase();
        if (excluded(binding, name) || (!qualifier && binding.hidden.has(name))) continue;
        const derived = replaced.get(name) ?? (!qualifier ? scope.using.get(name) : undefined) ?? column;
        columns.push(named(renames.get(name) ?? column.name, derived));
      }
    }
    // What the star passes on of each relation beyond the columns it lists.
    const rest = bindings.map(
      (b): Relation => ({
        columns: [],
        open: b.relation.open,
        lookup: (name) => (b.relation.open && !excluded(b, name) ? b.relation.lookup(name) : undefined),
        ...(b.relation.beyond && { beyond: (name: string) => (excluded(b, name) ? UNKNOWN : b.relation.beyond!(name)) }),
      }),
    );
    return assembled(columns, rest);
  }

  private from(ref: Node | null, ctes: ReadonlyMap<string, Relation>, outer: Scope | undefined): Pick<Scope, 'bindings' | 'using'> {
    const single = (alias: string, relation: Relation) => ({ bindings: [{ alias: alias.toLowerCase(), relation, hidden: new Set<string>() }], using: new Map<string, Derived>() });
    if (!ref || ref.type === 'EMPTY') return { bindings: [], using: new Map() };
    switch (ref.type) {
      case 'BASE_TABLE': {
        const name = String(ref.table_name).toLowerCase();
        const relation = !ref.schema_name && ctes.has(name) ? ctes.get(name)! : this.table(name);
        return single(String(ref.alias || ref.table_name), renamed(relation, ref.column_name_alias as string[]));
      }
      case 'SUBQUERY':
        return single(String(ref.alias ?? ''), renamed(this.query((ref.subquery as { node: Node }).node, ctes, outer), ref.column_name_alias as string[]));
      case 'EXPRESSION_LIST': {
        const rows = (ref.values as Node[][] | undefined) ?? [];
        const empty: Scope = { bindings: [], using: new Map(), aliases: new Map(), outer };
        const columns = (rows[0] ?? []).map((_, i) => named(`col${i}`, combine(rows.map((row) => this.expression(row[i]!, empty, ctes)), 'transform')));
        return single(String(ref.alias ?? ''), closed(columns));
      }
      case 'JOIN':
        return this.join(ref, ctes, outer);
      case 'TABLE_FUNCTION':
        return single(String(ref.alias || (ref.function as Node | undefined)?.function_name || ''), renamed(unknownRelation(), ref.column_name_alias as string[]));
      default:
        return single(String(ref.alias ?? ''), unknownRelation());
    }
  }

  private join(ref: Node, ctes: ReadonlyMap<string, Relation>, outer: Scope | undefined): Pick<Scope, 'bindings' | 'using'> {
    const left = this.from(ref.left as Node, ctes, outer);
    const right = this.from(ref.right as Node, ctes, outer);
    const type = String(ref.join_type);
    // SEMI and ANTI joins only filter the left side.
    if (type === 'SEMI' || type === 'ANTI') return left;
    const names = (side: typeof left) => new Set(side.bindings.flatMap((b) => b.relation.columns.filter((c) => c.name !== '*').map((c) => c.name.toLowerCase())));
    const shared =
      ref.ref_type === 'NATURAL'
        ? [...names(left)].filter((n) => names(right).has(n))
        : lowerAll(ref.using_columns);
    const using = new Map([...left.using, ...right.using]);
    for (const name of shared) {
      const scopeOf = (side: typeof left): Scope => ({ ...side, aliases: new Map(), outer: undefined });
      const [l, r] = [this.unqualified(name, scopeOf(left), true), this.unqualified(name, scopeOf(right), true)];
      // A USING column is the left side's value, the right's in a RIGHT join, either in a FULL one.
      using.set(name, type === 'RIGHT' ? (r ?? UNKNOWN) : type === 'OUTER' || type === 'FULL' ? combine([l ?? UNKNOWN, r ?? UNKNOWN], 'transform') : (l ?? UNKNOWN));
    }
    const hidden = new Set(shared);
    return { bindings: [...left.bindings, ...right.bindings.map((b) => ({ ...b, hidden: new Set([...b.hidden, ...hidden]) }))], using };
  }

  private expression(node: Node, scope: Scope, ctes: ReadonlyMap<string, Relation>): Derived {
    if (node.class === 'COLUMN_REF') return this.column(node.column_names as string[], scope);
    const parts: Derived[] = [];
    const walk = (value: unknown, bound: ReadonlySet<string>): void => {
      if (Array.isArray(value)) {
        for (const v of value) walk(v, bound);
        return;
      }
      if (!value || typeof value !== 'object') return;
      const n = value as Node;
      if (n.class === 'COLUMN_REF') {
        const names = n.column_names as string[];
        if (!(names.length === 1 && bound.has(names[0]!.toLowerCase()))) parts.push(this.column(names, scope));
        return;
      }
      if (n.class === 'SUBQUERY') {
        const inner = this.query((n.subquery as { node: Node }).node, ctes, scope);
        parts.push(...inner.columns);
        walk(n.child, bound);
        return;
      }
      if (n.class === 'LAMBDA') {
        // The lambda's parameters are names of its own, not columns.
        const params = new Set(bound);
        const collect = (p: unknown): void => {
          const pn = p as Node | null;
          if (pn?.class === 'COLUMN_REF') params.add(String((pn.column_names as string[])[0]).toLowerCase());
          else if (pn && typeof pn === 'object') for (const child of (pn.children as unknown[] | undefined) ?? []) collect(child);
        };
        collect(n.lhs);
        walk(n.expr, params);
        return;
      }
      if (n.class === 'STAR' || n.class === 'POSITIONAL_REFERENCE') {
        parts.push(UNKNOWN);
        return;
      }
      for (const child of Object.values(n)) walk(child, bound);
    };
    walk(node, new Set());
    return combine(parts, 'transform');
  }

  /**
   * A column reference, qualified or not, as DuckDB binds it: the FROM relations' listed columns
   * first, then earlier aliases, then the outer query; only then is a name taken to be one a
   * relation has beyond its list.
   */
  private column(names: readonly string[], scope: Scope): Derived {
    const lower = names.map((n) => n.toLowerCase());
    if (lower.length === 1) {
      for (const guess of [false, true]) {
        for (let s: Scope | undefined = scope; s; s = s.outer) {
          const found = this.unqualified(lower[0]!, s, guess);
          if (found) return found;
        }
      }
      return UNKNOWN;
    }
    // `t.col`, `t.col.field` (a struct's field) or `schema.t.col`.
    for (let s: Scope | undefined = scope; s; s = s.outer) {
      for (const at of lower.length > 2 ? [1, 2] : [1]) {
        const relation = s.bindings.find((b) => b.alias === lower[at - 1])?.relation;
        if (relation) return field(relation.lookup(lower[at]!) ?? relation.beyond?.(lower[at]!) ?? UNKNOWN, at < lower.length - 1);
      }
    }
    // `col.field`: a field of a struct column.
    return field(this.column(lower.slice(0, 1), scope), true);
  }

  private unqualified(name: string, scope: Scope, guess: boolean): Derived | undefined {
    const found = scope.using.get(name) ?? scope.bindings.map((b) => listed(b.relation.columns, name)).find(Boolean) ?? scope.aliases.get(name);
    if (found || !guess) return found;
    // Which relation has a column it does not list is a guess: none when several might.
    const guesses = scope.bindings.flatMap((b) => (b.relation.open ? [b.relation.lookup(name)] : b.relation.beyond ? [b.relation.beyond(name)] : [])).filter((d): d is Derived => d !== undefined);
    if (guesses.length > 1) return UNKNOWN;
    return guesses[0];
  }
}

/**
 * The name DuckDB gives each unaliased SELECT item that is not a column: the expression printed
 * back (`count_star()`, `lower(email)`), which DuckDB prints from the same tree.
 */
async function expressionNames(parser: SqlParser, root: Node): Promise<Map<Node, string>> {
  const items: Node[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    const n = value as Node;
    if (n.type === 'SELECT_NODE') {
      for (const item of (n.select_list as Node[] | undefined) ?? []) if (!item.alias && item.class !== 'COLUMN_REF' && item.class !== 'STAR') items.push(item);
    }
    Object.values(n).forEach(walk);
  };
  walk(root);
  const names = new Map<Node, string>();
  if (!items.length) return names;
  const template = await parseSqlTree(parser, 'SELECT 1');
  const select = template.statements![0]!.node;
  for (const item of items) {
    select.select_list = [item];
    try {
      names.set(item, (await printSqlTree(parser, template)).replace(/^SELECT /, ''));
    } catch {
      // Left unnamed: '(expression)'.
    }
  }
  return names;
}
