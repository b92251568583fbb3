import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectSchema } from '../src/config/config.js';
import { CLICKSTREAM, REPO, cli, tempDir, writeTree } from './helpers.js';

/**
 * The public component API: a project registers components of its own from its config (here a
 * check, a materialisation and a task kind, all made with Tributary's public define… functions),
 * and they are valid where their family goes, checked by their own schemas, listed by
 * `tributary components`, and named in the config's errors.
 */

const components = `import { defineCheck, defineMaterialization, defineTask, quoteIdent, z } from 'tributary';

/** Every value of a column is even. */
export const even = defineCheck({
  kind: 'even',
  description: 'every value of the column is even',
  config: z.object({ test: z.literal('even'), table: z.string(), column: z.string(), severity: z.enum(['error', 'warn']).optional() }).strict(),
  create: (c) => ({ name: \`even(\${c.table}.\${c.column})\`, table: c.table, severity: c.severity ?? 'error', offendingRows: \`SELECT * FROM \${quoteIdent(c.table)} WHERE \${quoteIdent(c.column)} % 2 <> 0\` }),
});

/** A history table: each run's rows are added to what is there. */
export const history = defineMaterialization({
  kind: 'history',
  description: "each run's rows appended to the table",
  usedBy: ['model'],
  config: z.object({ kind: z.literal('history') }).strict(),
  create: (_config, context) => {
    const store = context.defaultStore();
    return { kind: 'history', label: 'history', reference: 'relation', partitions: false, intervals: false, store, shape: (base) => base, writeMode: () => ({ kind: 'append' }) };
  },
});

/** A task that says hello with its own option. */
export const hello = defineTask({
  kind: 'hello',
  description: 'logs a greeting',
  config: z.strictObject({ to: z.string().min(1) }),
  create: (config) => ({ run: async (ctx) => { ctx.log(\`hello, \${config.to}\`); return { status: 'success', result: { greeted: config.to } }; } }),
});
`;

function project(overrides: { checks?: string; models?: string; jobs?: string; components?: string; moduleType?: 'module' | 'commonjs' } = {}): string {
  return writeTree({
    'components.ts': components,
    'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
import { even, hello, history } from './components.js';
export default defineProject({
  name: 'own_components',
  models: {
    numbers: { sql: 'SELECT range AS n FROM range(0, 10, 2)', materialize: 'table' },
    ${overrides.models ?? "log: { sql: 'SELECT n FROM {{ ref(\\'numbers\\') }}', materialize: history.configure({}) },"}
  },
  checks: [${overrides.checks ?? "even.configure({ table: 'numbers', column: 'n' })"}],
  jobs: { greet: defineJob({ tasks: { say: ${overrides.jobs ?? "hello.configure({ to: 'world' })"} } }) },
  components: ${overrides.components ?? '[even, history, hello]'},
});
`,
    'package.json': JSON.stringify({ type: overrides.moduleType ?? 'module', private: true }),
  });
}

describe('components of a project’s own', () => {
  it('a check, a materialisation and a task kind of its own run where their families go', () => {
    const dir = project();
    const dataDir = tempDir();
    const first = cli(['run', '--project', dir, '--data-dir', dataDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/✔ check even\(numbers\.n\): ok/);
    expect(first.stderr).toMatch(/✔ log \(history\)/);
    expect(cli(['run', '--project', dir, '--data-dir', dataDir, '--quiet']).code).toBe(0);
    // The history materialisation appends: two runs, twice the rows.
    const rows = cli(['sql', 'SELECT count(*)::INTEGER AS n FROM log', '--project', dir, '--data-dir', dataDir, '--format', 'json']);
    expect(JSON.parse(rows.stdout)).toEqual([{ n: 10 }]);
    const greeted = cli(['trigger', 'greet', '--project', dir, '--data-dir', dataDir]);
    expect(greeted.code, greeted.stderr).toBe(0);
    expect(`${greeted.stdout}${greeted.stderr}`).toMatch(/hello, world/);
  });

  it('a project whose package.json makes its files CommonJS requires the same Tributary, components and all', () => {
    const dir = project({ moduleType: 'commonjs' });
    const dataDir = tempDir();
    const run = cli(['run', '--project', dir, '--data-dir', dataDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/✔ check even\(numbers\.n\): ok/);
    expect(run.stderr).toMatch(/✔ log \(history\)/);
    const bad = cli(['run', '--project', project({ moduleType: 'commonjs', jobs: "{ kind: 'hello', to: '' }" }), '--data-dir', tempDir()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/jobs\.greet\.tasks\.say\.to/);
  });

  it('its check fails a run when the data breaks it, naming the check', () => {
    const dir = project({ checks: "even.configure({ table: 'odd', column: 'n' })", models: "odd: { sql: 'SELECT 3 AS n', materialize: 'table' }," });
    const run = cli(['run', '--project', dir, '--data-dir', tempDir()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✘ check even\(odd\.n\): 1 offending row/);
  });

  it('its config is checked by its own schema, and an unknown kind lists the project’s kinds too', () => {
    const bad = cli(['run', '--project', project({ jobs: "{ kind: 'hello', to: '' }" }), '--data-dir', tempDir()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/jobs\.greet\.tasks\.say\.to/);
    const unknown = cli(['run', '--project', project({ checks: "{ test: 'odd', table: 'numbers', column: 'n' }" }), '--data-dir', tempDir()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/checks\.0/);
    expect(unknown.stderr).toMatch(/'even'/);
    expect(unknown.stderr).toMatch(/'not_null'/);
  });

  it('a component that reuses a kind of its family is refused, naming the kind', () => {
    const dir = project({ components: "[even, history, hello, { ...even, kind: 'unique' }]" });
    const run = cli(['run', '--project', dir, '--data-dir', tempDir()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/a check of kind 'unique' already exists/);
    expect(run.stderr).toMatch(/components\.3/);
  });

  it('`tributary components` lists them with their options, generated from their schemas; the retail example registers one', () => {
    const listed = cli(['components', 'checks', '--project', project()]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ {2}even — every value of the column is even$/m);
    expect(listed.stdout).toMatch(/^ {4}column: string {2}\(required\)$/m);
    expect(listed.stdout).toMatch(/^ {2}not_null — /m);
    const tasks = cli(['components', 'tasks', '--project', project()]);
    expect(tasks.stdout).toMatch(/^ {2}hello — logs a greeting\n {4}to: string {2}\(required\)$/m);
    const retail = cli(['components', 'checks', '--project', path.join(REPO, 'examples', 'retail-sales')]);
    expect(retail.stdout).toMatch(/^ {2}totals_match — /m);
    expect(retail.stdout).toMatch(/^ {4}against: \{ table, measure \} {2}\(required\)$/m);
  });
});

describe('a stream input given by URL', () => {
  const inputOf = (input: unknown) => {
    const parsed = projectSchema.safeParse({ name: 'p', streams: { live: { input, binds: 'clicks', columns: { id: 'UUID' }, sinks: {} } } });
    return parsed.success ? { input: parsed.data.streams.live!.input } : { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  };

  it('is the config its scheme’s component makes of it', () => {
    expect(inputOf('kafka://k1:9092,k2:9092/clickstream')).toEqual({ input: { kind: 'kafka', brokers: ['k1:9092', 'k2:9092'], topic: 'clickstream', format: { kind: 'json' } } });
    expect(inputOf('nats://127.0.0.1:4222/CLICKS?subject=clicks.{partition}&partitions=4')).toMatchObject({
      input: { kind: 'nats', servers: '127.0.0.1:4222', stream: 'CLICKS', subject: 'clicks.{partition}', partitions: 4 },
    });
  });

  it('that names no component, or lacks what its component needs, is refused with the shape expected', () => {
    expect(inputOf('kafak://k1:9092/clickstream')).toEqual({ error: 'streams.live.input: expected a URL of kafka://… or nats://… (or { kind: … })' });
    expect(inputOf('kafka://k1:9092')).toEqual({ error: 'streams.live.input: expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC' });
    expect(inputOf('nats://h:4222/S?partitions=4').error).toMatch(/^streams\.live\.input\.subject: with partitions, subject must name each partition's subject with \{partition\}/);
    expect(inputOf('nats://h:4222/S?partitions=many').error).toMatch(/^streams\.live\.input\.partitions: /);
  });

  it('from the environment, with a password, never shows the password: not when refused, not when its broker cannot be reached', () => {
    const secret = 's3cretpw';
    const run = (url: string, command = ['ls']) => cli([...command, '--project', CLICKSTREAM, '--data-dir', tempDir()], undefined, { CLICKSTREAM_INPUT: url });
    const noStream = run(`nats://user:${secret}@127.0.0.1:1`);
    expect(noStream.code).toBe(1);
    expect(noStream.stderr).toContain("expected nats://HOST:PORT[,HOST:PORT…]/STREAM[?subject=SUBJECT.{partition}&partitions=N], got 'nats://user:***@127.0.0.1:1'");
    // The Kafka input connects without SASL: a user and password were taken for a broker's host.
    const kafka = run(`kafka://user:${secret}@127.0.0.1:1/clickstream`);
    expect(kafka.code).toBe(1);
    expect(kafka.stderr).toContain('a kafka:// URL names brokers only: the Kafka input takes no user or password');
    const unreachable = run(`nats://user:${secret}@127.0.0.1:1/CLICKS`, ['drain']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot connect to NATS at 127.0.0.1:1: ');
    for (const r of [noStream, kafka, unreachable]) expect(r.stderr + r.stdout).not.toContain(secret);
  });
});
