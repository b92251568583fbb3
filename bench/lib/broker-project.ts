import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A copy of the clickstream example in `dir` whose stream reads `input` (a broker) instead of the
 * embedded log, its models and macros read from the example, its dashboards left out.
 */
export function clickstreamOnBroker(example: string, dir: string, input: string): string {
  mkdirSync(dir, { recursive: true });
  const config = readFileSync(join(example, 'tributary.config.ts'), 'utf8');
  // A replacement that no longer matches would leave the job reading the embedded log (empty here).
  const from = "input: process.env.CLICKSTREAM_INPUT ?? { kind: 'log', topic: 'clickstream' }";
  if (!config.includes(from)) throw new Error(`the example's stream input is no longer ${from}: update bench/lib/broker-project.ts`);
  writeFileSync(
    join(dir, 'tributary.config.ts'),
    config
      .replace(from, input)
      .replaceAll("'models/", `'${join(example, 'models')}/`)
      .replace("macros: 'macros.sql'", `macros: ${JSON.stringify(join(example, 'macros.sql'))}`)
      .replace("dashboards: { clickstream: 'dashboards/clickstream.ts' },", ''),
  );
  return dir;
}
