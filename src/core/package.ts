import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The running Tributary as a package: where it is installed and what its package.json says. The
 * version lives in package.json alone; everything that shows or writes it reads it from there.
 */
export const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface PackageInfo {
  name: string;
  version: string;
  /** The example `tributary demo` runs when none is named. */
  demo: string | undefined;
}

let info: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (!info) {
    const json = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; tributary?: { demo?: string } };
    info = { name: json.name, version: json.version, demo: json.tributary?.demo };
  }
  return info;
}

/** True when this Tributary was installed as a dependency (from a registry or a tarball), not run from a clone. */
export function installedAsDependency(): boolean {
  return PACKAGE_ROOT.split(path.sep).includes('node_modules');
}
