import { commandInput, CommandInputError, commands, type CommandIO, type ServerServices } from '../commands/index.js';
import { errorMessage, TributaryError, type ErrorPlace } from '../core/errors.js';
import type { ProgressEnd, ProgressUpdate } from '../core/progress.js';
import type { ServerPlugin } from './app.js';
import { jsonObject } from './json-bytes.js';

/** A frame of a command's answer, one JSON object a line. */
export type CommandFrame =
  | { out: string }
  | { err: string }
  | { progress: { id: number; label: string; totalBytes?: number; update?: ProgressUpdate; done?: string; end?: ProgressEnd } }
  | { exit: number; error?: string; hint?: string; place?: ErrorPlace };

/** Frames of progress are sent at most this often per reporter. */
const PROGRESS_EVERY_MS = 200;

/**
 * The server runs the CLI's commands on the state it owns: `tributary run`, `compact`, `catalog`,
 * `runs`, `quarantine`, `sql`, `shell` work while `tributary up` runs. The CLI sends the command
 * and its parsed input; the answer streams back as frames (output, messages, progress, the exit)
 * as the work happens.
 */
export function commandsPlugin(services: ServerServices): ServerPlugin {
  return async (app, { ws }) => {
    app.post<{ Body: string }>('/api/commands', (request, reply) => {
      const body = jsonObject<{ command?: unknown; input?: unknown; tty?: unknown }>(request.body);
      if (!body) return reply.code(400).send({ error: 'expected a JSON body {"command": "...", "input": {...}}' });
      const spec = typeof body.command === 'string' && Object.hasOwn(commands, body.command) ? commands[body.command] : undefined;
      if (!spec) return reply.code(404).send({ error: `no command '${String(body.command)}' runs on the server`, hint: `commands: ${Object.keys(commands).join(', ')}` });
      let input: unknown;
      try {
        input = commandInput(spec, body.input);
      } catch (error) {
        if (!(error instanceof CommandInputError)) throw error;
        return reply.code(400).send({ error: error.message, hint: error.hint });
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      const send = (frame: CommandFrame) => {
        if (!res.writableEnded) res.write(`${JSON.stringify(frame)}\n`);
      };
      // The client went away (Ctrl+C on the CLI) when the response closes before it ended; the
      // request's own 'close' only says its body was read.
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableEnded) abort.abort(new Error('the client that sent it stopped waiting'));
      });
      let reporters = 0;
      const io: CommandIO = {
        tty: body.tty === true,
        out: (text) => send({ out: text }),
        err: (text) => send({ err: text }),
        progress(label, totalBytes) {
          const id = ++reporters;
          let last = 0;
          send({ progress: { id, label, totalBytes } });
          return {
            update(update) {
              if (Date.now() - last < PROGRESS_EVERY_MS) return;
              last = Date.now();
              send({ progress: { id, label, update } });
            },
            done(summary, end) {
              send({ progress: { id, label, done: summary ?? '', end } });
            },
          };
        },
      };
      spec.run({ ws, io, server: services, signal: abort.signal }, input).then(
        () => {
          send({ exit: 0 });
          res.end();
        },
        (error: unknown) => {
          // The place travels apart from the message, so the CLI prints it as a command run here does.
          if (error instanceof TributaryError) send({ exit: 1, error: error.message, hint: error.hint, place: error.place });
          else send({ exit: 1, error: errorMessage(error) });
          res.end();
        },
      );
    });
  };
}
