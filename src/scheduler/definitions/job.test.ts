import { describe, expect, it } from 'vitest';
import { defineJob, jobSchema, parseJobs } from './job.js';

const minimal = { tasks: { run: { kind: 'models', select: ['*'] } } } as const;

describe('job definitions', () => {
  it('fills defaults for the job and its tasks', () => {
    const job = jobSchema.parse({ schedule: '@daily', ...minimal });
    expect(job).toMatchObject({ timezone: 'UTC', catchup: false, maxActiveRuns: 1, allowShell: false, onFailure: [] });
    expect(job.defaults).toEqual({ retries: 0, retryDelaySeconds: 60, retryBackoff: 'exponential', maxRetryDelaySeconds: 3600, retryJitter: 0 });
    expect(job.tasks.run).toMatchObject({ kind: 'models', after: [], triggerRule: 'all_success', exclude: [], fullRefresh: false });
  });

  it('accepts every schedule form', () => {
    for (const schedule of ['*/15 * * * *', '@hourly', { cron: '0 6 * * 1-5', timezone: 'Europe/Paris' }, { onTablesChanged: ['orders'] }]) {
      expect(jobSchema.safeParse({ schedule, ...minimal }).success).toBe(true);
    }
  });

  it('explains bad schedules, zones and dates', () => {
    const message = (input: unknown): string => {
      try {
        parseJobs({ daily: input });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(message({ schedule: '0 25 * * *', ...minimal })).toMatch(/invalid schedule "0 25 \* \* \*".*hour/);
    // Well-formed, but no February has a 31st: a job that would never run. A 29 February comes every fourth year.
    expect(message({ schedule: '0 0 31 2 *', ...minimal })).toMatch(/invalid schedule "0 0 31 2 \*": it names no date that exists/);
    expect(message({ schedule: { cron: '0 0 30 2 *', timezone: 'Europe/Paris' }, ...minimal })).toMatch(/never run/);
    expect(message({ schedule: '0 0 29 2 *', ...minimal })).toBe('');
    expect(message({ timezone: 'Mars/Olympus', ...minimal })).toMatch(/unknown time zone "Mars\/Olympus"/);
    expect(message({ start: '2024-13-01', ...minimal })).toMatch(/not a date/);
    expect(message({ start: '2024-02-01', end: '2024-01-01', ...minimal })).toMatch(/end 2024-01-01 is before start/);
  });

  it('refuses shell tasks unless the job allows them', () => {
    const shell = { tasks: { cleanup: { kind: 'shell', command: 'rm -rf tmp/{{ ds }}' } } };
    expect(() => parseJobs({ nightly: shell })).toThrow(/task 'cleanup' is a shell task: set allowShell: true/);
    expect(() => parseJobs({ nightly: { allowShell: true, ...shell } })).not.toThrow();
  });

  it('validates the graph, each kind config, and templates', () => {
    expect(() => parseJobs({ j: { tasks: { a: { kind: 'models', select: ['x'], after: ['b'] }, b: { kind: 'models', select: ['y'], after: ['a'] } } } })).toThrow(
      /cycle: a → b → a/,
    );
    expect(() => parseJobs({ j: { tasks: { wait: { kind: 'sensor', sql: 'select 1', lakeObject: 'x' } } } })).toThrow(/exactly one of files, sql, lakeObject/);
    expect(() => parseJobs({ j: { tasks: { wait: { kind: 'sensor', files: 'landing/{{ day }}/*.csv' } } } })).toThrow(/unknown template variable \{\{ day \}\}/);
    expect(() => parseJobs({ j: { tasks: { x: { kind: 'teleport' } } } })).toThrow(/kind/);
    expect(() => parseJobs({ j: { tasks: { x: { kind: 'notify', urlEnv: 'https://hooks.slack.com/x' } } } })).toThrow(/environment variable/);
  });

  it('defineJob checks `after` against the job task names at compile time', () => {
    const job = defineJob({
      schedule: '@daily',
      tasks: {
        load: { kind: 'models', select: ['orders'] },
        check: { kind: 'checks', after: ['load'] },
        // @ts-expect-error 'lod' is not a task of this job
        report: { kind: 'models', select: ['report'], after: ['lod'] },
      },
    });
    expect(Object.keys(job.tasks)).toEqual(['load', 'check', 'report']);
  });
});
