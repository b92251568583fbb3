// Builds the web UI into dist/web: one bundled, minified script and the static files.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', '..', 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(here, 'app.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: path.join(out, 'app.js'),
  logLevel: 'warning',
});
copyFileSync(path.join(here, 'index.html'), path.join(out, 'index.html'));
copyFileSync(path.join(here, 'styles.css'), path.join(out, 'app.css'));
