// Loaded with `node --import`: appends the URL of every module the process loads to the file
// MODULE_LOG names, so a test can tell what a command needed to start.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.MODULE_LOG, url + '\\n');
  return next(url, context);
}`)}`,
);
