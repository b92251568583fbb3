import { TributaryError } from '../core/errors.js';
import type { MaxQuarantined } from '../core/schemas.js';

/** The default: 1 % of the rows a load reads, and never fewer than this many rows. */
const DEFAULT_SHARE = 0.01;
const DEFAULT_FLOOR = 10;

/** How many rows a load of `considered` rows may quarantine. */
export function allowedQuarantine(max: MaxQuarantined | undefined, considered: number): number {
  if (max === undefined) return Math.max(DEFAULT_FLOOR, Math.floor(considered * DEFAULT_SHARE));
  if (typeof max === 'number') return max;
  return Math.floor((considered * Number(max.slice(0, -1))) / 100);
}

/**
 * Fails a load that quarantined more than it may, or that wrote nothing of rows it had to load,
 * naming how many rows failed for which reasons. Nothing of it is committed.
 */
export function assertLoadAcceptable(options: {
  model: string;
  source: string;
  max: MaxQuarantined | undefined;
  /** Rows the load was about (read, less those outside the run's interval). */
  considered: number;
  written: number;
  quarantined: number;
  reasons: readonly string[];
  /** What to do instead of the usual advice (fix the input, or raise the source's limit): a source whose limit the user cannot set. */
  advice?: string;
}): void {
  const { considered, written, quarantined } = options;
  const allowed = allowedQuarantine(options.max, considered);
  const nothing = written === 0 && quarantined > 0;
  if (quarantined <= allowed && !nothing) return;
  const top = topReasons(options.reasons);
  throw new TributaryError(
    `${nothing ? 'nothing loaded' : 'too many rows quarantined'}: ${quarantined.toLocaleString('en-US')} of ${considered.toLocaleString('en-US')} rows of source '${options.source}' failed (the limit is ${allowed.toLocaleString('en-US')}); nothing was committed. Top reasons: ${top}`,
    {
      hint:
        options.advice ??
        `see the rows with \`tributary run ${options.model}\` after fixing the input, or raise sources.${options.source}.maxQuarantined (a count such as 500, or a share such as '5%') if these rows are expected`,
    },
  );
}

/**
 * The most frequent reasons, with counts; a reason's values are masked so like reasons group. A
 * group of reasons that differ in what they got shows one of them as an example, not as all.
 */
export function topReasons(reasons: readonly string[], limit = 3): string {
  const counts = new Map<string, { n: number; example: string; alike: boolean }>();
  for (const reason of reasons) {
    const kind = reason.replace(/got .*$/, 'got …').replace(/\d+/g, '#').slice(0, 160);
    const entry = counts.get(kind) ?? { n: 0, example: reason.slice(0, 160), alike: true };
    entry.n++;
    entry.alike &&= gotPart(reason) === gotPart(entry.example);
    counts.set(kind, entry);
  }
  return [...counts.values()]
    .sort((a, b) => b.n - a.n)
    .slice(0, limit)
    .map((e) => `${e.n.toLocaleString('en-US')} × ${e.alike ? e.example : e.example.replace(/got (.*)$/, 'got … (e.g. $1)')}`)
    .join('; ');
}

/** What a reason says the value was (after its `got`), as far as a listed reason shows it. */
function gotPart(reason: string): string | undefined {
  return /got (.*)$/.exec(reason.slice(0, 160))?.[1];
}
