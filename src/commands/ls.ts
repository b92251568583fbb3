import { columnLineage, compileProject, selectModels, type Derivation, type ProjectPlan } from '../models/index.js';
import { queryableTables, type Workspace } from '../state/workspace.js';
import { renderRows } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';

/** `tributary ls`: the models a selection picks, in the order a run builds them, with what each reads and how it lands; with `columns`, each model's columns. */
export const lsCommand = defineCommand({
  ...declared.ls,
  async run({ ws, io }, input) {
    const plan = compileProject(ws.project, ws, await queryableTables(ws.engine));
    const models = selectModels(plan, input.select, input.exclude);
    if (input.columns) {
      const described = await modelColumns(ws, plan);
      const rows = models.flatMap((m) => {
        const found = described.get(m.name);
        if (found?.problem) io.err(`model '${m.name}': its columns are not known: ${found.problem}`);
        return (found?.columns ?? []).map((c) => ({
          model: m.name,
          column: c.column,
          // A JSON reader gets the list; a person or a CSV reader one cell.
          derived_from: input.format === 'json' ? c.derived_from : c.derived_from.join(', '),
          how: c.how,
          description: c.description ?? '',
        }));
      });
      io.out(renderRows(rows, input.format, ['model', 'column', 'derived_from', 'how', 'description'], io.tty));
      if (input.format === 'table') io.err(`${rows.length} column(s) of ${models.length} model(s) (target ${ws.project.target.name})`);
      return;
    }
    io.out(
      renderRows(
        models.map((m) => ({
          model: m.name,
          materialize: m.materialization.label,
          runs: m.materialization.reference === 'inline' ? 'inlined where read' : 'yes',
          reads: [...m.sources.map((s) => `source:${s}`), ...m.refs].join(', '),
          tags: m.config.tags.join(', '),
          file: m.file ?? '(inline SQL)',
        })),
        input.format,
        undefined,
        io.tty,
      ),
    );
    if (input.format === 'table') io.err(`${models.length} of ${plan.order.length} model(s) selected (target ${ws.project.target.name})`);
  },
});

/** A model's column: the upstream columns (`relation.column`, a source as `source:<name>`) it derives from, how, and what the model's config says it holds. */
export interface ModelColumn {
  column: string;
  derived_from: string[];
  how: Derivation;
  description: string | null;
}

/**
 * Every model's columns, by model name, read off the engine's parse tree of its SQL (see
 * `columnLineage`); a model whose SQL does not parse has a `problem` instead. A `*` over a table
 * no SQL of the project describes expands to the columns the engine's catalog has for it now.
 */
export async function modelColumns(ws: Workspace, plan: ProjectPlan = compileProject(ws.project, ws)): Promise<Map<string, { columns: ModelColumn[]; problem?: string }>> {
  const tables = new Map<string, string[]>();
  const add = (table: string, column: string) => tables.set(table.toLowerCase(), [...(tables.get(table.toLowerCase()) ?? []), column]);
  const engine = await ws.engine.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index`,
  );
  for (const row of engine) add(row.table_name, row.column_name);
  // Tables the engine does not hold (a store elsewhere) as the catalog registered them.
  const inEngine = new Set(tables.keys());
  for (const row of await ws.metastore.allColumns()) if (!inEngine.has(row.table_name.toLowerCase())) add(row.table_name, row.name);
  const lineage = await columnLineage(ws.engine, plan, (table) => tables.get(table.toLowerCase()));
  const out = new Map<string, { columns: ModelColumn[]; problem?: string }>();
  for (const [name, found] of lineage) {
    const descriptions = plan.models.get(name)?.config.columns ?? {};
    out.set(name, {
      ...(found.problem ? { problem: found.problem } : {}),
      columns: found.columns.map((c) => ({
        column: c.column,
        derived_from: c.from.map((f) => `${f.relation}.${f.column}`),
        how: c.how,
        description: descriptions[c.column] ?? descriptions[c.column.toLowerCase()] ?? null,
      })),
    });
  }
  return out;
}
