import { ensureBuilt } from './support/shipped-cli.js';

/**
 * The tests run the CLI as users do, `bin/tributary.js` over dist/: it is built once here, before
 * any test file starts, when the sources are newer than it (a fresh `npm ci` has built it already).
 */
export default function setup(): void {
  ensureBuilt();
}
