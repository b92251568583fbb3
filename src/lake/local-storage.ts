import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LakeStorage } from './storage.js';

/** The lake in a local folder: staging under `_staging/`, publishing by rename (atomic on one disk). */
export class LocalLakeStorage implements LakeStorage {
  readonly graceMs = 0;

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
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

  // One process owns a local lake: every staging folder it did not make itself is a dead run's.
  async staleStagedRuns(inProgress: ReadonlySet<string>, _graceMs: number): Promise<string[]> {
    return existsSync(this.stagingRoot) ? readdirSync(this.stagingRoot).filter((run) => !inProgress.has(run)) : [];
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
    renameSync(source, target);
    this.removeEmptyParents(path.dirname(source));
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
