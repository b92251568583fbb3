import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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

const recordFile = (stateDir: string) => path.join(stateDir, 'server.json');

export function writeServerRecord(stateDir: string, record: ServerRecord): () => void {
  const file = recordFile(stateDir);
  writeFileSync(file, JSON.stringify({ ...record, dir: realpathSync(record.dir) }));
  return () => rmSync(file, { force: true });
}

/**
 * The record of a server that still runs, if any, and serves the project in `dir` (a record
 * written before servers named their folder is taken as this project's).
 */
export function liveServerRecord(stateDir: string, dir: string): (Partial<ServerRecord> & Pick<ServerRecord, 'url' | 'pid'>) | undefined {
  try {
    const record = JSON.parse(readFileSync(recordFile(stateDir), 'utf8')) as Partial<ServerRecord> & Pick<ServerRecord, 'url' | 'pid'>;
    process.kill(record.pid, 0);
    return record.dir === undefined || record.dir === realpathSync(dir) ? record : undefined;
  } catch {
    return undefined;
  }
}
