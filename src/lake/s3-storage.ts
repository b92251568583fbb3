import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';

type S3Sdk = typeof import('@aws-sdk/client-s3');
import { TributaryError } from '../core/errors.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';
import type { LakeStorage } from './storage.js';

/**
 * Where an S3-compatible store is and who may use it, from the environment (never from the
 * project file): AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) for a store other than AWS,
 * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and
 * TRIBUTARY_S3_URL_STYLE (`path`, the default with an endpoint, or `vhost`).
 */
export interface S3Settings {
  endpoint: URL | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  sessionToken: string | undefined;
  urlStyle: 'path' | 'vhost';
}

export function s3Settings(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpointText = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  let endpoint: URL | undefined;
  if (endpointText) {
    try {
      endpoint = new URL(endpointText);
    } catch {
      throw new TributaryError(`AWS_ENDPOINT_URL is not a URL: '${endpointText}'`, { hint: 'e.g. AWS_ENDPOINT_URL=http://127.0.0.1:9000' });
    }
  }
  const style = env.TRIBUTARY_S3_URL_STYLE ?? (endpoint ? 'path' : 'vhost');
  if (style !== 'path' && style !== 'vhost') throw new TributaryError(`TRIBUTARY_S3_URL_STYLE must be path or vhost, not '${style}'`, { hint: 'path for most S3-compatible servers, vhost for AWS' });
  return {
    endpoint,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    sessionToken: env.AWS_SESSION_TOKEN,
    urlStyle: style,
  };
}

/** `s3://bucket/prefix` as its parts; anything else is not an S3 location. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) return undefined;
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

/**
 * The lake in a bucket of S3-compatible object storage. The engine reads and writes the objects
 * itself (DuckDB's httpfs: range reads, only the files a query needs); this client moves,
 * deletes and lists them. A run writes into `_staging/<run>/` of the prefix; after the catalog
 * commits, each file is copied to its key in the table's folder and its staged object deleted,
 * so a folder holds committed files only (and an object appears whole or not at all: a PUT, and a
 * multipart upload until it completes, is never visible half-written). On storage several
 * processes share, staged objects are only removed once older than a grace period.
 */
// The SDK's notice that its releases from 2027 need Node 22 is about versions Tributary does not pin.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export class S3LakeStorage implements LakeStorage {
  /** Several processes may share a bucket: an object younger than an hour may be a commit under way elsewhere. */
  readonly graceMs = 3_600_000;
  private connection: ReturnType<S3LakeStorage['s3']> | undefined;
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    url: string,
    private readonly settings: S3Settings = s3Settings(),
  ) {
    const parsed = parseS3Url(url);
    if (!parsed) throw new TributaryError(`the lake '${url}' is not an s3:// URL`, { hint: "e.g. lake: 's3://my-bucket/lake'" });
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix;
  }

  /** Sends the command `make` builds from the SDK. */
  private async send(make: (sdk: S3Sdk) => object): Promise<unknown> {
    const { sdk, client } = await this.s3();
    return client.send(make(sdk) as never);
  }

  /** The S3 client, its SDK loaded on first use: a lake on disk never needs it, and every command starts faster without it. */
  private s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    const settings = this.settings;
    return (this.connection ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        region: settings.region,
        endpoint: settings.endpoint?.href,
        forcePathStyle: settings.urlStyle === 'path',
        credentials: settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken } : undefined,
      }),
    })));
  }

  get location(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private objectKey(key: string): string {
    if (key.split('/').some((part) => part === '..')) throw new Error(`lake key ${key} points outside the lake`);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private keyOf(location: string): string {
    const base = `${this.location}/`;
    if (!location.startsWith(base)) throw new Error(`${location} is not in the lake ${this.location}`);
    return location.slice(base.length);
  }

  /** httpfs with a secret for this bucket from the same settings; the secret lives in the engine's memory only. */
  async open(engine: Engine): Promise<void> {
    await engine.load('httpfs');
    const { endpoint, region, accessKeyId, secretAccessKey, sessionToken, urlStyle } = this.settings;
    const fields = [
      'TYPE s3',
      `SCOPE ${quoteLiteral(`s3://${this.bucket}`)}`,
      `REGION ${quoteLiteral(region)}`,
      `URL_STYLE ${quoteLiteral(urlStyle)}`,
      ...(accessKeyId ? [`KEY_ID ${quoteLiteral(accessKeyId)}`] : []),
      ...(secretAccessKey ? [`SECRET ${quoteLiteral(secretAccessKey)}`] : []),
      ...(sessionToken ? [`SESSION_TOKEN ${quoteLiteral(sessionToken)}`] : []),
      ...(endpoint ? [`ENDPOINT ${quoteLiteral(endpoint.host)}`, `USE_SSL ${endpoint.protocol === 'https:'}`] : []),
    ];
    await engine.run(`CREATE OR REPLACE SECRET tributary_lake (${fields.join(', ')})`);
    try {
      await this.send((sdk) => new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(''), MaxKeys: 1 }));
    } catch (error) {
      throw new TributaryError(`cannot reach the lake ${this.location}: ${(error as Error).name}: ${(error as Error).message}`, {
        hint: 'check that the bucket exists and that AWS_ENDPOINT_URL, AWS_REGION and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the environment are right',
        cause: error,
      });
    }
  }

  async stagingLocation(runId: string): Promise<string> {
    return `${this.location}/_staging/${runId}`;
  }

  join(location: string, ...parts: string[]): string {
    return [location.replace(/\/+$/, ''), ...parts].join('/');
  }

  async prepareFolder(): Promise<void> {}

  async removeStaged(locations: readonly string[]): Promise<void> {
    await this.deleteObjects(locations.map((l) => this.objectKey(this.keyOf(l))));
  }

  async staleStagedRuns(inProgress: ReadonlySet<string>, graceMs: number): Promise<string[]> {
    const newest = new Map<string, number>();
    for (const { key, modifiedMs } of await this.list('_staging')) {
      const run = key.split('/')[1]!;
      newest.set(run, Math.max(newest.get(run) ?? 0, modifiedMs));
    }
    const before = Date.now() - graceMs;
    return [...newest].filter(([run, at]) => at < before && !inProgress.has(run)).map(([run]) => run);
  }

  async discardStaging(runId: string): Promise<void> {
    const objects = await this.list(`_staging/${runId}`);
    await this.deleteObjects(objects.map(({ key }) => this.objectKey(key)));
  }

  async publish(stagedLocation: string, key: string): Promise<void> {
    const staged = this.objectKey(this.keyOf(stagedLocation));
    if (!(await this.head(staged))) {
      if (await this.head(this.objectKey(key))) return; // published before a crash interrupted the bookkeeping
      throw new Error(`staged object ${stagedLocation} for ${key} is missing`);
    }
    if (await this.head(this.objectKey(key))) throw new Error(`refusing to publish over the existing object ${this.readPath(key)}`);
    await this.copyObject(staged, this.objectKey(key));
    await this.deleteObjects([staged]);
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.objectKey(from);
    if (!(await this.head(source))) return;
    await this.copyObject(source, this.objectKey(to));
    await this.deleteObjects([source]);
  }

  async copy(from: string, to: string): Promise<void> {
    const source = this.objectKey(from);
    if (await this.head(source)) await this.copyObject(source, this.objectKey(to));
  }

  /** A conditional PUT: the store itself refuses a key that exists, whoever wrote it. */
  async writeNew(key: string, body: Uint8Array): Promise<void> {
    await this.send((sdk) => new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body, IfNoneMatch: '*' }));
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.deleteObjects(keys.map((k) => this.objectKey(k)));
  }

  async exists(key: string): Promise<boolean> {
    return this.head(this.objectKey(key));
  }

  async list(prefix: string): Promise<{ key: string; modifiedMs: number }[]> {
    const out: { key: string; modifiedMs: number }[] = [];
    const base = this.objectKey(prefix.replace(/\/+$/, ''));
    let token: string | undefined;
    do {
      const page = (await this.send((sdk) => new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${base}/`, ContinuationToken: token }))) as ListObjectsV2CommandOutput;
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        out.push({ key: this.prefix ? object.Key.slice(this.prefix.length + 1) : object.Key, modifiedMs: object.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  readPath(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  private async head(objectKey: string): Promise<boolean> {
    try {
      await this.send((sdk) => new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return true;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
  }

  private async copyObject(from: string, to: string): Promise<void> {
    await this.send((sdk) => new sdk.CopyObjectCommand({ Bucket: this.bucket, CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`, Key: to }));
  }

  private async deleteObjects(objectKeys: readonly string[]): Promise<void> {
    for (let i = 0; i < objectKeys.length; i += 1000) {
      const batch = objectKeys.slice(i, i + 1000);
      if (batch.length) await this.send((sdk) => new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    }
  }
}
