import { compileProject, selectModels, type ProjectPlan } from '../models/index.js';
import type { Workspace } from '../state/workspace.js';

/**
 * Who first writes each table of the project: a stream job's sink at its first commit, or a
 * model's run (by hand, or by the jobs that select it). Undefined for a name the project does not
 * write, which a tile reading it gets as the engine's error: a misspelt table.
 */
export function firstWriters(ws: Workspace): (table: string) => string | undefined {
  const { config } = ws.project;
  let plan: ProjectPlan | undefined;
  return (table) => {
    for (const [job, stream] of Object.entries(config.streams)) {
      if (Object.values(stream.sinks).some((sink) => Object.hasOwn(sink.tables, table))) return `the stream job ${job} at its first commit`;
    }
    plan ??= compileProject(ws.project, ws);
    const model = plan.models.get(table);
    if (!model?.materialization.store?.holdsRows) return undefined;
    const jobs = Object.entries(config.jobs)
      .filter(([, job]) => Object.values(job.tasks).some((task) => task.kind === 'models' && selectModels(plan!, task.select, task.exclude).some((m) => m.name === table)))
      .map(([name]) => name);
    return `the model ${table} (\`tributary run ${table}\`${jobs.length ? `, or the job${jobs.length > 1 ? 's' : ''} ${jobs.join(', ')}` : ''})`;
  };
}
