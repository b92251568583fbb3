import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeFolder, TributaryError } from '../core/errors.js';
import { PACKAGE_ROOT, installedAsDependency, packageInfo } from '../core/package.js';
import { CONFIG_FILES } from '../config/folders.js';

/**
 * The project `tributary init` writes: the files of templates/init, which the README shows as they
 * are. A template's `gitignore` becomes `.gitignore` (npm leaves .gitignore files out of packages).
 */
export const INIT_TEMPLATE = path.join(PACKAGE_ROOT, 'templates', 'init');

function templateFiles(dir = INIT_TEMPLATE, prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const relative = `${prefix}${entry.name}`;
    if (entry.isDirectory()) Object.assign(files, templateFiles(path.join(dir, entry.name), `${relative}/`));
    else files[relative === 'gitignore' ? '.gitignore' : relative] = readFileSync(path.join(dir, entry.name), 'utf8');
  }
  return files;
}

/**
 * The project's package.json: ES modules (as the config is written), and Tributary as a
 * dependency: a version range of the registry's package when Tributary was installed as one, or
 * else the folder it runs from (a clone), so that `npm install` there makes `npx tributary` and
 * the config's import work.
 */
function packageJson(name: string): string {
  const own = packageInfo();
  const fromRegistry = installedAsDependency();
  return `${JSON.stringify(
    {
      name,
      private: true,
      type: 'module',
      scripts: { run: 'tributary run', up: 'tributary up' },
      // Installed under the name configs import ('tributary'), whatever the registry calls the package.
      dependencies: { tributary: fromRegistry ? `npm:${own.name}@^${own.version}` : `file:${PACKAGE_ROOT}` },
    },
    null,
    2,
  )}\n`;
}

/** Writes a small project that runs as it is, and refuses to overwrite an existing one. */
export function scaffoldProject(dir: string): string[] {
  const existing = CONFIG_FILES.find((f) => existsSync(path.join(dir, f)));
  if (existing) {
    throw new TributaryError(`a project already exists here (${existing})`, { place: { file: dir }, hint: 'choose an empty folder: `tributary init my-project`' });
  }
  makeFolder(dir, 'the project folder', 'choose a folder that can be written: `tributary init my-project`');
  const files = { ...templateFiles(), ...(existsSync(path.join(dir, 'package.json')) ? {} : { 'package.json': packageJson(path.basename(dir).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'tributary-project') }) };
  for (const [file, text] of Object.entries(files)) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  return Object.keys(files);
}
