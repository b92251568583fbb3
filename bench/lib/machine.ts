import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, release, platform } from 'node:os';
import { createRequire } from 'node:module';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  node: string;
  duckdb: string;
  nodejsPolars: string;
  python: string;
  /** The Python peers' packages and versions, e.g. "pandas 3.1.1, pyarrow 26.0.1". */
  pythonPackages: string;
  date: string;
  /** The commit measured (with "+changes" when the work tree differed from it). */
  commit: string;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /PRETTY_NAME="([^"]+)"/.exec(text)?.[1] ?? `${platform()} ${release()}`;
  } catch {
    return `${platform()} ${release()}`;
  }
}

/** Versions of the tools in the race, and the machine they ran on. */
export function machineInfo(extra: { python?: string; pythonPackages?: string } = {}): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    os: osName(),
    node: process.version,
    duckdb: packageVersion('@duckdb/node-api'),
    nodejsPolars: packageVersion('nodejs-polars'),
    python: extra.python ?? 'unknown',
    pythonPackages: extra.pythonPackages ?? 'unknown',
    date: new Date().toISOString(),
    commit: commitMeasured(),
  };
}

/** The Python peers' interpreter and packages as a results page names them, or that none ran. */
export function pythonPeers(m: MachineInfo): string {
  return m.pythonPackages && m.pythonPackages !== 'unknown' ? `Python ${m.python} with ${m.pythonPackages}` : 'no Python peers installed';
}

let atStart: string | undefined;

/**
 * The repository's HEAD, marked when files differ from it: a figure belongs to the code that made
 * it. Read once, at the first call (bench/run.ts makes it before any suite), so a commit made
 * while a long suite runs is not named as the one it measured.
 */
export function commitMeasured(): string {
  atStart ??= readCommit();
  return atStart;
}

function readCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    // Results a suite wrote (this one's, or one run just before it) change nothing measured.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', ':(top)', ':(top,exclude)bench/results'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
