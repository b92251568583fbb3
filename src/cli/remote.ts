import path from 'node:path';
import type { CommandIO } from '../commands/index.js';
import { TributaryError, abortReason } from '../core/errors.js';
import { interruptOnSignals } from './interrupt.js';
import { createProgress, type Progress } from '../core/progress.js';
import { printable } from '../core/printable.js';
import type { Project } from '../config/project.js';
import { stateDirOf } from '../config/folders.js';
import { liveServerRecord } from '../owner/server-record.js';
import type { CommandFrame } from '../server/commands.js';


/**
 * The server running for a project, if any (written by `up`, removed when it stops): where it
 * answers, the target it works on and the record that says so.
 */
export function runningServer(project: Project): { url: string; target: string; record: string } | undefined {
  const record = liveServerRecord(project.stateDir, project.dir);
  return record && { url: record.url, target: record.target, record: record.file };
}

/**
 * The server to send a command to, found before the project's config is compiled: most of a sent
 * command's CPU went to compiling it (about 0.8 s), taken from the stream the server runs. Only a
 * server in the default state folder (or the data folder given), serving this very folder, on
 * the target the command would work on; otherwise undefined, and the command loads the project.
 */
export function serverForCommand(flags: { project?: string; dataDir?: string; target?: string }): { url: string; record: string } | undefined {
  const dir = path.resolve(flags.project ?? process.cwd());
  const record = liveServerRecord(stateDirOf(dir, flags.dataDir), dir);
  if (!record) return undefined;
  const asked = flags.target ?? process.env.TRIBUTARY_TARGET ?? record.defaultTarget;
  return asked === record.target ? { url: record.url, record: record.file } : undefined;
}

function authHeaders(): Record<string, string> {
  const token = process.env.TRIBUTARY_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A server's answer: its status, and its body to read once, whole (`json`) or as it arrives. */
export interface ServerResponse {
  status: number;
  ok: boolean;
  body: AsyncIterable<Buffer>;
  json(): Promise<unknown>;
}

/**
 * A request to a Tributary server, with the token from the environment and a clear error when it
 * is not there; `record` is the server record the address came from, if it did. Node's http, not
 * fetch: loading fetch's client cost a one-shot command 80 ms of its 260 ms of CPU.
 */
export async function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}, record?: string): Promise<ServerResponse> {
  const target = new URL(url);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const sent = send(target, { method: init.method ?? 'GET', headers: { ...authHeaders(), ...init.headers }, signal: init.signal }, (response) => {
      const status = response.statusCode ?? 0;
      const body = (async function* () {
        try {
          yield* response as AsyncIterable<Buffer>;
        } catch (error) {
          if (init.signal?.aborted) throw error;
          throw new TributaryError(`the connection to ${url} closed before the answer ended (${(error as Error).message})`, { hint: 'the server stopped or restarted: look at its log, then run the command again' });
        }
      })();
      resolve({
        status,
        ok: status >= 200 && status < 300,
        body,
        json: async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk);
          return JSON.parse(Buffer.concat(chunks).toString('utf8'));
        },
      });
    });
    sent.on('error', (error) =>
      reject(
        new TributaryError(`cannot reach ${url}: ${error.message}`, {
          hint: record
            ? `the address comes from ${record}, which a server writes while it runs: if it was stopped without removing it (kill -9) and its process number is now another program's, remove the file and run again`
            : 'is a Tributary server running there? Start one with `tributary up`, or check the address (--server or TRIBUTARY_SERVER for a command, --to for produce, --url for status)',
        }),
      ),
    );
    sent.end(init.body);
  });
}

/**
 * Runs a command inside the server that owns the project's state, showing its output, messages
 * and progress here as they stream back.
 */
export async function runOnServer(url: string, command: string, input: unknown, io: CommandIO, record?: string): Promise<void> {
  // Ctrl+C closes the request: the server stops the command as when it runs here.
  const interrupt = interruptOnSignals((message) => io.err(message));
  try {
    const response = await request(
      `${url.replace(/\/$/, '')}/api/commands`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ command, input, tty: io.tty }),
        signal: interrupt.signal,
      },
      record,
    );
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string; hint?: string };
      throw new TributaryError(`the server at ${url} refused the command: ${body.error ?? response.status}`, { hint: body.hint ?? 'is TRIBUTARY_TOKEN set to the server’s token?' });
    }
    const reporters = new Map<number, Progress>();
    let pending = '';
    let exit: Extract<CommandFrame, { exit: number }> | undefined;
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const frame = JSON.parse(pending.slice(0, newline)) as CommandFrame;
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if ('out' in frame) io.out(frame.out);
        else if ('err' in frame) io.err(frame.err);
        else if ('progress' in frame) {
          const { id, label, totalBytes, update, done, end } = frame.progress;
          let reporter = reporters.get(id);
          if (!reporter) reporters.set(id, (reporter = io.progress(label, totalBytes)));
          if (update) reporter.update(update);
          if (done !== undefined) reporter.done(done || undefined, end);
        } else exit = frame;
      }
    }
    if (!exit) throw new TributaryError(`the server at ${url} stopped before the command finished`, { hint: 'look at the server’s log, then run the command again' });
    if (exit.exit !== 0) throw new TributaryError(exit.error ?? 'the command failed on the server', { hint: exit.hint, place: exit.place });
  } catch (error) {
    if (!interrupt.signal.aborted) throw error;
    throw new TributaryError(`stopped (${abortReason(interrupt.signal)}): the server at ${url} was told to stop the command`, {
      hint: 'work it had not committed is dropped; `tributary runs` shows how each run ended',
    });
  } finally {
    interrupt.dispose();
  }
}

/** The terminal as a command's output. */
export function terminalIO(quiet = false): CommandIO {
  return {
    tty: Boolean(process.stdout.isTTY),
    out: (text) => process.stdout.write(`${text}\n`),
    // What a command says to people may quote the data (a header, a value, a check's error):
    // its control characters are shown, not obeyed. Data asked for goes to stdout as it is.
    err: (text) => process.stderr.write(`${printable(text)}\n`),
    progress: (label, totalBytes) => createProgress({ label, totalBytes, quiet }),
  };
}
