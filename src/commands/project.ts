import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import type { Project } from '../config/project.js';

/**
 * A view of the project for one command: `--source NAME=PATH` points sources elsewhere for this
 * command only, without touching the project others see (the server's, say).
 */
export function withSources(project: Project, sources: Record<string, string> | undefined): Project {
  const entries = Object.entries(sources ?? {});
  if (!entries.length) return project;
  const config = structuredClone(project.config);
  for (const [name, replacement] of entries) {
    const source = config.sources[name];
    if (!source) {
      throw new TributaryError(`--source names '${name}', which the project does not declare`, {
        hint: `declared sources: ${Object.keys(config.sources).join(', ') || '(none)'}`,
      });
    }
    source.path = path.resolve(replacement);
  }
  return { ...project, config };
}
