import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { z } from 'zod';
import { renderTemplate, templateSchema } from './template.js';
import { TaskFailure, defineTaskComponent } from './types.js';

/** After SIGTERM, how long a command gets to exit before SIGKILL. */
const KILL_GRACE_MS = 5_000;
const TAIL_LINES_IN_ERROR = 20;

/** Keeps the last `maxChars` of what it is given. */
class OutputTail {
  private text = '';

  constructor(private readonly maxChars: number) {}

  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 2 * this.maxChars) this.text = this.text.slice(-this.maxChars);
  }

  toString(): string {
    return this.text.slice(-this.maxChars);
  }
}

/**
 * Runs a shell command (opt-in per job with `allowShell: true`). Output goes to the task log, its tail is the
 * result; a non-zero exit fails the task; on timeout or stop the whole process group is killed.
 */
export const shellTask = defineTaskComponent({
  kind: 'shell',
  description: 'Run a shell command (the job must set allowShell: true)',
  requiresJobFlag: 'allowShell',
  config: z.strictObject({
    /** Run by /bin/sh -c; templated in text mode ({{ ds }}…), so quote values yourself. */
    command: templateSchema.min(1),
    /** Working directory, relative to the project root. */
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).default({}),
    outputTailChars: z.number().int().positive().default(8_000),
  }),
  create: (config) => ({
    async run(ctx) {
      ctx.signal.throwIfAborted();
      const command = renderTemplate(config.command, ctx.vars, 'text');
      const tail = new OutputTail(config.outputTailChars);
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: resolve(ctx.platform.projectDir, config.cwd ?? '.'),
        env: {
          ...ctx.platform.env,
          ...config.env,
          TRIBUTARY_JOB: ctx.job,
          TRIBUTARY_TASK: ctx.task,
          TRIBUTARY_RUN_ID: ctx.runId,
          TRIBUTARY_DS: ctx.interval.ds,
          TRIBUTARY_DATA_INTERVAL_START: ctx.interval.start.toISOString(),
          TRIBUTARY_DATA_INTERVAL_END: ctx.interval.end.toISOString(),
        },
        // Its own process group, so a timeout kills the command's children too, not only the shell.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let partialLine = '';
      const onOutput = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        tail.append(text);
        const lines = (partialLine + text).split('\n');
        partialLine = lines.pop() ?? '';
        for (const line of lines) ctx.log(line);
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      let killTimer: NodeJS.Timeout | undefined;
      const kill = (): void => {
        signalGroup(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      ctx.signal.addEventListener('abort', kill, { once: true });
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit, rejectExit) => {
        child.once('error', rejectExit);
        child.once('close', (code, signal) => resolveExit({ code, signal }));
      }).finally(() => {
        ctx.signal.removeEventListener('abort', kill);
        clearTimeout(killTimer);
      });
      if (partialLine) ctx.log(partialLine);
      const output = tail.toString();
      if (exit.code !== 0) {
        const lastLines = output.trimEnd().split('\n').slice(-TAIL_LINES_IN_ERROR).join('\n');
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        throw new TaskFailure(`command ${how}${lastLines ? `; last output:\n${lastLines}` : ''}`);
      }
      return { status: 'success', result: { exitCode: 0, output } };
    },
  }),
});

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
