import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LakeStorage } from './storage.js';
import { makeFolder } from '../core/errors.js';

/**
 * The lake in a local folder: staging under `_staging/`, publishing by rename (atomic on one
 * disk). Owned by one process, what it finds staged by others is a dead run's; shared (several
 * processes of a shared catalog on one machine, or a network folder), only what is older than
 * the grace period is.
 */
export class LocalLakeStorage implements LakeStorage {
  readonly graceMs: number;

  constructor(
    readonly root: string,
    private readonly options: { shared?: boolean } = {},
  ) {
    makeFolder(root, 'the lake folder', 'give --data-dir (or the config’s lake, or TRIBUTARY_LAKE) a folder that can be written; it is made if missing');
    this.graceMs = options.shared ? 3_600_000 : 0;
  }

  get location(): string {
    return this.root;
  }

  async open(): Promise<void> {}

  private get stagingRoot(): string {
    return path.join(this.root, '_staging');
  }

  async stagingLocation(runId: string): Promise<string> {
    const dir = path.join(this.stagingRoot, runId);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  join(location: string, ...parts: string[]): string {
    return path.join(location, ...parts);
  }

  async prepareFolder(location: string): Promise<void> {
    mkdirSync(location, { recursive: true });
  }

  async removeStaged(locations: readonly string[]): Promise<void> {
    for (const location of locations) rmSync(location, { force: true });
  }

  async staleStagedRuns(inProgress: ReadonlySet<string>, graceMs: number): Promise<string[]> {
    if (!existsSync(this.stagingRoot)) return [];
    const before = Date.now() - graceMs;
    return readdirSync(this.stagingRoot).filter((run) => !inProgress.has(run) && (!this.options.shared || statSync(path.join(this.stagingRoot, run)).mtimeMs < before));
  }

  async discardStaging(runId: string): Promise<void> {
    rmSync(path.join(this.stagingRoot, runId), { recursive: true, force: true });
  }

  async publish(stagedPath: string, key: string): Promise<void> {
    const target = this.readPath(key);
    if (!existsSync(stagedPath)) {
      if (existsSync(target)) return; // published before a crash interrupted the bookkeeping
      throw new Error(`staged file ${stagedPath} for ${key} is missing`);
    }
    if (existsSync(target)) throw new Error(`refusing to publish over the existing file ${target}`);
    mkdirSync(path.dirname(target), { recursive: true });
    renameSync(stagedPath, target);
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.readPath(from);
    if (!existsSync(source)) return;
    const target = this.readPath(to);
    mkdirSync(path.dirname(target), { recursive: true });
    // Made by `copy` already (a link to the same file, which rename would leave in place): only the source goes.
    if (existsSync(target)) rmSync(source);
    else renameSync(source, target);
    this.removeEmptyParents(path.dirname(source));
  }

  async copy(from: string, to: string): Promise<void> {
    const source = this.readPath(from);
    const target = this.readPath(to);
    if (!existsSync(source) || existsSync(target)) return;
    mkdirSync(path.dirname(target), { recursive: true });
    // A second name for the same file costs nothing; a file system without links gets a copy.
    try {
      linkSync(source, target);
    } catch {
      copyFileSync(source, target);
    }
  }

  async writeNew(key: string, body: Uint8Array): Promise<void> {
    const file = this.readPath(key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, body, { flag: 'wx' });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const file = this.readPath(key);
      rmSync(file, { force: true });
      this.removeEmptyParents(path.dirname(file));
    }
  }

  async exists(key: string): Promise<boolean> {
    return existsSync(this.readPath(key));
  }

  async list(prefix: string): Promise<{ key: string; modifiedMs: number }[]> {
    const base = this.readPath(prefix);
    if (!existsSync(base) || !statSync(base).isDirectory()) return [];
    const out: { key: string; modifiedMs: number }[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else out.push({ key: path.relative(this.root, full).split(path.sep).join('/'), modifiedMs: statSync(full).mtimeMs });
      }
    };
    walk(base);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  readPath(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) throw new Error(`lake key ${key} points outside the lake`);
    return resolved;
  }

  /** A table's partition folders go when their last file goes, so readers see no empty partitions. */
  private removeEmptyParents(dir: string): void {
    let current = dir;
    while (current.startsWith(this.root + path.sep) && existsSync(current) && readdirSync(current).length === 0) {
      rmSync(current, { recursive: true, force: true });
      current = path.dirname(current);
    }
  }
}
