import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isZombie } from '../core/folder-lock.js';

/**
 * What a running server writes in its project's state folder (`server.json`, removed when it
 * stops): other commands of the same project find it there and are sent to it.
 */
export interface ServerRecord {
  url: string;
  pid: number;
  /** The target the server works on. */
  target: string;
  /** The project folder it serves (its real path): a copy of the folder, record included, is another project. */
  dir: string;
  /**
   * Set when the server works on the project's default target (none was named with --target or
   * TRIBUTARY_TARGET): a command that names none goes to it without compiling the config to learn
   * which target that is.
   */
  defaultTarget?: string;
}

const serverRecordFile = (stateDir: string) => path.join(stateDir, 'server.json');

export function writeServerRecord(stateDir: string, record: ServerRecord): () => void {
  const file = serverRecordFile(stateDir);
  writeFileSync(file, JSON.stringify({ ...record, dir: realpathSync(record.dir) }));
  return () => rmSync(file, { force: true });
}

/** Where a server of this machine answers: the record is a file anyone may have put in a folder. */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]']);

/**
 * The record of a server that still runs on this machine and serves the project in `dir`, if any,
 * with the file it was read from. A record that names no folder, another one or another machine
 * is no server of this project: a folder cloned or unpacked with a record in it would otherwise
 * have its commands, and the token they carry, sent wherever the record said.
 */
export function liveServerRecord(stateDir: string, dir: string): (ServerRecord & { file: string }) | undefined {
  const file = serverRecordFile(stateDir);
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServerRecord>;
    if (typeof record.url !== 'string' || typeof record.pid !== 'number' || typeof record.target !== 'string') return undefined;
    if (record.dir !== realpathSync(dir) || !LOCAL_HOSTS.has(new URL(record.url).hostname)) return undefined;
    process.kill(record.pid, 0);
    if (isZombie(record.pid)) return undefined;
    return { ...(record as ServerRecord), file };
  } catch {
    return undefined;
  }
}
