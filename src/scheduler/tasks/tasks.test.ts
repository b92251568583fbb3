import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../json.js';
import { createTaskContext, createTestPlatform, ManualClock, startWebhookReceiver, type WebhookReceiver } from '../testing.js';
import { checksTask } from './checks.js';
import { functionTask } from './function.js';
import { notifyTask } from './notify.js';
import { reconcileTask } from './reconcile.js';
import { sensorTask } from './sensor.js';
import { shellTask } from './shell.js';
import { renderTemplate } from './template.js';
import type { TaskComponent } from './types.js';

/** Builds a runner the way the executor does: the component parses its own config. */
function runnerOf(component: TaskComponent, config: unknown) {
  return component.create(component.config.parse(config));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-scheduler-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('templates', () => {
  it('renders text as is and SQL as literals', () => {
    const ctx = createTaskContext(createTestPlatform());
    expect(renderTemplate('landing/{{ ds }}/{{ds_nodash}}.csv', ctx.vars, 'text')).toBe('landing/2024-01-05/20240105.csv');
    expect(renderTemplate('drops/{{ yyyy }}/{{ mm }}/{{ dd }}/*.json', ctx.vars, 'text')).toBe('drops/2024/01/05/*.json');
    expect(renderTemplate("select count(*) from t where d = {{ ds }} and ts >= {{ data_interval_start }} and j = {{ job }}", ctx.vars, 'sql')).toBe(
      "select count(*) from t where d = DATE '2024-01-05' and ts >= TIMESTAMP '2024-01-05 00:00:00' and j = 'daily'",
    );
  });
});

describe('reconcile', () => {
  const platform = createTestPlatform({
    query: (sql) => [{ value: sql.includes('source') ? 10_034n : sql.includes('target') ? '10021' : 0 }],
    projectDir: '/',
  });

  it('fails with both numbers, the difference and the tolerance in the message', async () => {
    const runner = runnerOf(reconcileTask, { source: { sql: 'select count(*) from source' }, target: { sql: 'select count(*) from target' } });
    await expect(runner.run(createTaskContext(platform))).rejects.toThrow(
      'reconciliation failed for 2024-01-05: source rows = 10034, target rows = 10021 (difference -13, -0.13 %; allowed: exact match)',
    );
  });

  it('passes within a relative or absolute tolerance', async () => {
    const relative = runnerOf(reconcileTask, {
      source: { sql: 'select count(*) from source' },
      target: { sql: 'select count(*) from target' },
      tolerance: { relative: 0.002 },
    });
    const outcome = await relative.run(createTaskContext(platform));
    expect(outcome).toEqual({ status: 'success', result: { measure: 'rows', source: 10034, target: 10021, difference: -13 } });
    const absolute = runnerOf(reconcileTask, {
      source: { sql: 'select count(*) from source' },
      target: { sql: 'select count(*) from target' },
      tolerance: { absolute: 12 },
    });
    await expect(absolute.run(createTaskContext(platform))).rejects.toThrow(/allowed: ±12\)/);
  });

  it('counts the data lines of source files (header, blank lines, gzip)', async () => {
    await writeFile(join(dir, 'orders-2024-01-05-a.csv'), 'id,amount\n1,10\n2,20\n\n3,30');
    await writeFile(join(dir, 'orders-2024-01-05-b.csv.gz'), gzipSync('id,amount\r\n4,40\r\n'));
    const counting = createTestPlatform({ query: () => [{ n: 4 }], projectDir: dir });
    const runner = runnerOf(reconcileTask, {
      source: { files: 'orders-{{ ds }}-*', header: true },
      target: { sql: 'select count(*) from orders where day = {{ ds }}' },
    });
    const ctx = createTaskContext(counting);
    expect(await runner.run(ctx)).toMatchObject({ status: 'success', result: { source: 4, target: 4 } });
    expect(ctx.lines[0]).toMatch(/source: 4 data line\(s\) in 2 file\(s\)/);
  });
});

describe('sensor', () => {
  it('reschedules until files exist and are stable, then succeeds', async () => {
    const clock = new ManualClock('2024-01-06T01:00:00Z');
    const platform = createTestPlatform({ now: clock.now, projectDir: dir });
    const runner = runnerOf(sensorTask, { files: 'landing/{{ ds }}/*.json', minFiles: 1, pokeSeconds: 60 });
    const startedAt = clock.now();
    const poke = (pokeState?: JsonValue) =>
      runner.run(createTaskContext(platform, { attemptStartedAt: startedAt, timeoutSeconds: 600, ...(pokeState ? { pokeState } : {}) }));

    const first = await poke();
    expect(first).toMatchObject({ status: 'reschedule', nextPokeAt: new Date('2024-01-06T01:01:00Z') });
    await mkdir(join(dir, 'landing/2024-01-05'), { recursive: true });
    await writeFile(join(dir, 'landing/2024-01-05/part-0.json'), '{"a":1}\n');
    const second = first.status === 'reschedule' ? await poke(first.pokeState) : first;
    // Seen once: not yet known to be stable.
    expect(second.status).toBe('reschedule');
    const third = second.status === 'reschedule' ? await poke(second.pokeState) : second;
    expect(third).toMatchObject({ status: 'success', result: { pokes: 3 } });
  });

  it('times out for good once the wait exceeds timeoutSeconds', async () => {
    const clock = new ManualClock('2024-01-06T01:00:00Z');
    const platform = createTestPlatform({ now: clock.now, query: () => [{ ready: false }] });
    const runner = runnerOf(sensorTask, { sql: 'select count(*) > 0 from raw where day = {{ ds }}', pokeSeconds: 30 });
    const startedAt = clock.now();
    const first = await runner.run(createTaskContext(platform, { attemptStartedAt: startedAt, timeoutSeconds: 45 }));
    expect(first).toMatchObject({ status: 'reschedule', nextPokeAt: new Date('2024-01-06T01:00:30Z') });
    await clock.advance(30_000);
    const second = await runner.run(createTaskContext(platform, { attemptStartedAt: startedAt, timeoutSeconds: 45, pokeState: { pokes: 1 } }));
    // The last poke is at the deadline, not after it.
    expect(second).toMatchObject({ status: 'reschedule', nextPokeAt: new Date('2024-01-06T01:00:45Z') });
    await clock.advance(15_000);
    const third = runner.run(createTaskContext(platform, { attemptStartedAt: startedAt, timeoutSeconds: 45, pokeState: { pokes: 2 } }));
    await expect(third).rejects.toMatchObject({
      retryable: false,
      message: "sensor timed out after 45 s and 3 pokes: query returned false: select count(*) > 0 from raw where day = DATE '2024-01-05'",
    });
  });

  it('checks lake objects through the platform', async () => {
    const platform = createTestPlatform({ lakeObjects: new Set(['raw/events/ds=2024-01-05/_SUCCESS']) });
    const runner = runnerOf(sensorTask, { lakeObject: 'raw/events/ds={{ ds }}/_SUCCESS' });
    expect(await runner.run(createTaskContext(platform))).toMatchObject({ status: 'success' });
  });
});

describe('notify', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());

  it('posts a Slack message rendered from the run facts, with templated blocks', async () => {
    const platform = createTestPlatform({ env: { SLACK_WEBHOOK_URL: receiver.url } });
    const runner = runnerOf(notifyTask, {
      urlEnv: 'SLACK_WEBHOOK_URL',
      message: ':white_check_mark: {{ job }} loaded {{ ds }}',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{ job }}* for {{ ds }}' } }],
    });
    await runner.run(createTaskContext(platform));
    expect(receiver.received.at(-1)).toEqual({
      text: ':white_check_mark: daily loaded 2024-01-05',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*daily* for 2024-01-05' } }],
    });
  });

  it('posts the run facts as JSON to a generic webhook', async () => {
    const platform = createTestPlatform({ env: { HOOK_URL: receiver.url } });
    const runner = runnerOf(notifyTask, { urlEnv: 'HOOK_URL', format: 'json' });
    const ctx = createTaskContext(platform);
    await runner.run({ ...ctx, vars: { ...ctx.vars, state: 'failed', error: 'boom', attempt: '3', duration: '1.5 s' } });
    expect(receiver.received.at(-1)).toEqual({
      text: '[tributary] daily.step failed for 2024-01-05 (attempt 3, 1.5 s): boom',
      job: 'daily',
      task: 'step',
      run_id: 'daily__2024-01-05T00:00:00.000Z',
      run_kind: 'scheduled',
      state: 'failed',
      ds: '2024-01-05',
      data_interval_start: '2024-01-05T00:00:00.000Z',
      data_interval_end: '2024-01-06T00:00:00.000Z',
      attempt: 3,
      error: 'boom',
      duration: '1.5 s',
    });
  });

  it('fails clearly without the URL variable, and on an error status without showing the URL', async () => {
    const runner = runnerOf(notifyTask, { urlEnv: 'MISSING_URL' });
    await expect(runner.run(createTaskContext(createTestPlatform()))).rejects.toThrow('environment variable MISSING_URL (the webhook URL) is not set');
    receiver.status = 500;
    const failing = runnerOf(notifyTask, { urlEnv: 'HOOK_URL' });
    const error = await failing.run(createTaskContext(createTestPlatform({ env: { HOOK_URL: receiver.url } }))).catch((e: Error) => e);
    receiver.status = 200;
    expect((error as Error).message).toBe('webhook from HOOK_URL answered 500: no_service');
    // fetch's own errors name the URL; a Slack webhook's carries its token in the path.
    const secret = 'T000/B000/s3cretToken';
    const unsent = async (url: string) => (await failing.run(createTaskContext(createTestPlatform({ env: { HOOK_URL: url } }))).catch((e: Error) => e)) as Error;
    const noScheme = await unsent(`hooks.slack.com/services/${secret}`);
    expect(noScheme.message).toBe('cannot post to the webhook from HOOK_URL: the variable holds no URL (it should start with https://)');
    const refused = await unsent(`http://127.0.0.1:1/services/${secret}`);
    expect(refused.message).toMatch(/^cannot post to the webhook from HOOK_URL: /);
    for (const e of [noScheme, refused]) expect(`${e.message} ${String(e.cause ?? '')}`).not.toContain(secret);
  });
});

describe('function, checks and shell', () => {
  it('calls an exported function with the context and keeps its JSON result', async () => {
    const platform = createTestPlatform({ modules: { 'tasks/load.ts': { load: (ctx: { interval: { ds: string } }) => ({ day: ctx.interval.ds, rows: 3n }) } } });
    expect(await runnerOf(functionTask, { module: 'tasks/load.ts', export: 'load' }).run(createTaskContext(platform))).toEqual({
      status: 'success',
      result: { day: '2024-01-05', rows: '3' },
    });
    await expect(runnerOf(functionTask, { module: 'tasks/load.ts', export: 'lod' }).run(createTaskContext(platform))).rejects.toThrow(
      "tasks/load.ts has no function export 'lod' (function exports: load)",
    );
  });

  it('fails when checks fail, listing them', async () => {
    const platform = createTestPlatform({
      runChecks: async () => ({ passed: 4, failures: [{ check: 'not_null(user_id)', table: 'events', message: '10 null rows' }] }),
    });
    await expect(runnerOf(checksTask, { tables: ['events'] }).run(createTaskContext(platform))).rejects.toThrow(
      '1 of 5 checks failed for 2024-01-05:\n- not_null(user_id) on events: 10 null rows',
    );
  });

  it('runs a command with the run facts, keeps the output tail, and fails on a non-zero exit', async () => {
    const platform = createTestPlatform({ projectDir: dir });
    const ok = await runnerOf(shellTask, { command: 'echo "day {{ ds }} $TRIBUTARY_JOB"; echo err >&2' }).run(createTaskContext(platform));
    expect(ok).toEqual({ status: 'success', result: { exitCode: 0, output: 'day 2024-01-05 daily\nerr\n' } });
    await expect(runnerOf(shellTask, { command: 'echo partial; exit 3' }).run(createTaskContext(platform))).rejects.toThrow(
      'command exited with code 3; last output:\npartial',
    );
  });

  it('kills the whole command on abort', async () => {
    const controller = new AbortController();
    const ctx = createTaskContext(createTestPlatform({ projectDir: dir }), { signal: controller.signal });
    const running = runnerOf(shellTask, { command: 'sleep 30 & wait' }).run(ctx);
    // The command is spawned synchronously by run(): aborting now kills a live process group.
    controller.abort();
    await expect(running).rejects.toThrow(/killed by SIGTERM/);
  });
});
