/**
 * What a CommonJS config gets when it requires 'tributary': the package this process already
 * runs, put here by the config loader (project.ts), not a second copy of it.
 */
module.exports = (globalThis as Record<symbol, unknown>)[Symbol.for('tributary.own-package')];
