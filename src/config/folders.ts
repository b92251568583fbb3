import { existsSync } from 'node:fs';
import path from 'node:path';

/*
 * Where a project's files are, known without loading its config: a command sent to a running
 * server finds it from these alone (loading the config costs a client most of its start-up).
 */

export const CONFIG_FILES = ['tributary.config.ts', 'tributary.config.mts', 'tributary.config.js', 'tributary.config.mjs'];

export function findConfigFile(dir: string): string | undefined {
  return CONFIG_FILES.map((f) => path.join(dir, f)).find((f) => existsSync(f));
}

/** The project's state folder: in the data folder when one is given, else the config's `state`, else `.tributary`. */
export function stateDirOf(dir: string, dataDir: string | undefined, state = '.tributary'): string {
  return dataDir ? path.join(path.resolve(dataDir), 'state') : path.resolve(dir, state);
}
