import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Catalog } from '../catalog/index.js';
import type { Project } from '../core/project.js';
import { Engine } from '../engine/index.js';
import { Lake } from '../lake/index.js';

/** A project's live state: the engine on its warehouse, the catalog and the lake. */
export interface Workspace {
  project: Project;
  engine: Engine;
  catalog: Catalog;
  lake: Lake;
  close(): void;
}

export async function openWorkspace(project: Project): Promise<Workspace> {
  mkdirSync(project.stateDir, { recursive: true });
  mkdirSync(project.lakeDir, { recursive: true });
  const engine = await Engine.open({
    path: path.join(project.stateDir, 'warehouse.duckdb'),
    threads: project.config.engine?.threads,
    memoryLimit: project.config.engine?.memoryLimit,
    tempDirectory: path.join(project.stateDir, 'spill'),
  });
  const catalog = await Catalog.open(engine);
  if (project.config.macros) await engine.run(project.readText(project.config.macros, 'macros'));
  const lake = new Lake(engine, catalog, project.lakeDir, {
    compression: project.config.lakeCompression,
    parquetVersion: project.config.lakeParquetVersion,
  });
  return { project, engine, catalog, lake, close: () => engine.closeAll() };
}
