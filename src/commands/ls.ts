import { compileProject, selectModels } from '../models/index.js';
import { queryableTables } from '../state/workspace.js';
import { renderRows, type OutputFormat } from './output.js';
import { defineCommand } from './types.js';

/** `tributary ls`: the models a selection picks, in the order a run builds them, with what each reads and how it lands. */
export const lsCommand = defineCommand<{ select?: string[]; exclude?: string[]; format: OutputFormat }>({
  name: 'ls',
  async run({ ws, io }, input) {
    const plan = compileProject(ws.project, ws, await queryableTables(ws.engine));
    const models = selectModels(plan, input.select, input.exclude);
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
