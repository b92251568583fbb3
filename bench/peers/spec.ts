/**
 * What every peer of the batch race is told, as plain JSON: the clickstream example's source
 * columns and CSV options, engine memory limit, and where its macros and model SQL live. The
 * bench parent writes it from examples/ecommerce-clickstream; peers read it without importing
 * any Tributary code.
 */
export interface ClickstreamSpec {
  columns: Record<string, string>;
  timestampFormat: string;
  memoryLimit: string;
  /** Parquet compression of the lake, as the project declares it. */
  compression: string;
  /** Parquet format version, as the project declares it: 'v1' or 'v2'. */
  parquetVersion: string;
  macrosFile: string;
  modelsDir: string;
  /**
   * The source's declared rules. Every peer keeps only the rows that pass them, as Tributary
   * does (it also quarantines the others with file and line, which the peers do not).
   */
  rules: SourceRule[];
}

/** A SQL string literal. */
const lit = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface SourceRule {
  column: string;
  notNull?: boolean;
  accepted?: string[];
  min?: number;
  max?: number;
}

/** The rules as one SQL condition, with Tributary's meaning: only notNull rejects a NULL. */
export function rulesSql(rules: SourceRule[]): string {
  const conditions = rules.flatMap((r) => {
    const c = `"${r.column}"`;
    return [
      ...(r.notNull ? [`${c} IS NOT NULL`] : []),
      ...(r.accepted ? [`(${c} IS NULL OR ${c} IN (${r.accepted.map(lit).join(', ')}))`] : []),
      ...(r.min !== undefined ? [`(${c} IS NULL OR ${c} >= ${r.min})`] : []),
      ...(r.max !== undefined ? [`(${c} IS NULL OR ${c} <= ${r.max})`] : []),
    ];
  });
  return conditions.length ? conditions.join(' AND ') : 'true';
}

/** Bare DuckDB's read of the clickstream file: the declared types, the declared format, the rules as a filter. */
export function clickstreamSourceSql(spec: ClickstreamSpec, input: string): string {
  const columns = `{${Object.entries(spec.columns)
    .map(([name, type]) => `${lit(name)}: ${lit(type)}`)
    .join(', ')}}`;
  return `(SELECT * FROM read_csv(${lit(input)}, header = true, columns = ${columns}, timestampformat = ${lit(spec.timestampFormat)}) WHERE ${rulesSql(spec.rules)})`;
}

/** The numbers every peer reports and the bench compares. */
export interface PeerKpis {
  operations: number;
  revenue: number;
  purchases: number;
  views: number;
  carts: number;
  /** Row counts of the other three dashboard tables: a cheap check that they agree too. */
  minuteRows: number;
  departmentBrandRows: number;
  productRows: number;
}

export function parsePeerArgs(argv: string[]): { input: string; out: string; spec: string } {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    const value = i >= 0 ? argv[i + 1] : undefined;
    if (!value) throw new Error(`missing ${flag}`);
    return value;
  };
  return { input: get('--input'), out: get('--out'), spec: get('--spec') };
}
