import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXTENSIONS_ENV } from '../../src/engine/index.js';
import { EXTENSIONS, requireExtension } from './extensions.js';
import { REPO } from '../helpers.js';
import { freePort, requireService } from '../services.js';

/**
 * A real S3-compatible server for the lake-on-S3 tests: moto's server (from PyPI, installed by
 * .ci/python-tools.sh into .tools/venv), started on loopback by the test, with a bucket of its
 * own. It honours what the lake relies on (ListObjectsV2, multipart uploads, CopyObject,
 * DeleteObjects) and logs every request, which the tests count.
 */
export const MOTO = process.env.TRIBUTARY_MOTO ?? path.join(REPO, '.tools', 'venv', 'bin', 'moto_server');

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** What a process using the lake needs in its environment. */
  env: Record<string, string>;
  client: S3Client;
  /** Request lines the server has logged so far ("GET /bucket/key HTTP/1.1" 200). */
  requests(): string[];
  /** Every key of the bucket under `prefix`, sorted (all pages of ListObjectsV2). */
  keys(prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** True when moto and DuckDB's httpfs are here (skips loudly otherwise; fails under CI). */
export async function s3TestsCanRun(): Promise<boolean> {
  const moto = await requireService('moto, the S3-compatible server (bash .ci/python-tools.sh)', async () => {
    if (!existsSync(MOTO)) throw new Error(`${MOTO} not found`);
  });
  const httpfs = await requireExtension('httpfs');
  return moto && httpfs;
}

export async function startS3(bucket = 'lake'): Promise<S3Server> {
  const port = await freePort();
  // Its log goes to a file, not a pipe: a test blocked in a synchronous child (the CLI) must never
  // leave the server blocked on a full pipe.
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'moto-')), 'requests.log');
  const out = openSync(log, 'a');
  const child: ChildProcess = spawn(MOTO, ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', out, out] });
  closeSync(out);
  const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []);
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`moto exited (${code}) before it listened:\n${lines().join('\n')}`))));
  // It says so in its log; the test waits on that line, on the file's growth. The watch starts
  // before the first look: a line written between a look and a watch would wake nobody.
  const listening = new Promise<void>((resolve) => {
    const look = () => {
      if (!lines().some((line) => /Running on http/.test(line))) return;
      unwatchFile(log, look);
      resolve();
    };
    watchFile(log, { interval: 50 }, look);
    look();
  });
  await Promise.race([listening, exited]).finally(() => unwatchFile(log));
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'tributary-test', AWS_SECRET_ACCESS_KEY: 'tributary-test-secret', AWS_REGION: 'us-east-1', [EXTENSIONS_ENV]: EXTENSIONS };
  const client = new S3Client({ endpoint, region: env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    bucket,
    env,
    client,
    requests: () => lines().filter((line) => /"(GET|PUT|POST|HEAD|DELETE) /.test(line)),
    async keys(prefix) {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
    async stop() {
      client.destroy();
      if (child.exitCode === null) {
        const done = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await done;
      }
    },
  };
}
