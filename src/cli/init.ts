import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { PACKAGE_ROOT, installedAsDependency, packageInfo } from '../core/package.js';
import { CONFIG_FILES } from '../config/project.js';

const FILES: Record<string, string> = {
  'tributary.config.ts': `import { defineProject } from 'tributary';

export default defineProject({
  name: 'my_project',
  sources: {
    orders: {
      format: 'csv',
      path: 'data/orders*.csv',
      columns: { order_id: 'BIGINT', ordered_at: 'TIMESTAMP', customer: 'VARCHAR', amount: 'DECIMAL(10,2)' },
      rules: [
        { column: 'order_id', notNull: true },
        { column: 'amount', min: 0 },
      ],
    },
  },
  models: {
    orders: { sql: 'models/orders.sql', materialize: 'lake', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } },
    daily_revenue: { sql: 'models/daily_revenue.sql', materialize: 'table' },
  },
  checks: [{ table: 'orders', column: 'order_id', test: 'unique' }],
});
`,
  'data/orders.csv': `order_id,ordered_at,customer,amount
1,2024-05-01 09:12:00,ada,19.90
2,2024-05-01 10:40:00,grace,5.00
3,2024-05-02 16:03:00,ada,42.10
4,2024-05-02 17:30:00,linus,-3.00
5,2024-05-03 08:00:00,grace,12.50
`,
  'models/orders.sql': `-- Loads the order files into the lake, one partition a day. Rows failing a rule are quarantined.
SELECT *, upper(customer) AS customer_key
FROM {{ source('orders') }}
`,
  'models/daily_revenue.sql': `SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue
FROM {{ ref('orders') }}
GROUP BY ALL
ORDER BY day
`,
  '.gitignore': `.tributary/\nlake/\nnode_modules/\n`,
};

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
  const files = { ...FILES, ...(existsSync(path.join(dir, 'package.json')) ? {} : { 'package.json': packageJson(path.basename(dir).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'tributary-project') }) };
  for (const [file, text] of Object.entries(files)) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  return Object.keys(files);
}
