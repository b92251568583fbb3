import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { TransformOptions } from 'node:stream';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import type { GeneratorDefinition } from 'tributary';

/**
 * Segment-spec behavioural events (track, page, identify) of a fictional health start-up, Vitalis
 * (marketing site www.vitalis.example, web app app.vitalis.example), written as the daily drops a
 * Segment S3 destination leaves: `<out>/drops/YYYY/MM/DD/events-YYYY-MM-DD-<n>.json.gz`, gzipped
 * JSON lines, grouped by the UTC day of `receivedAt`. The day is in the file name as well as in
 * the folders, so a glob templated with the run's `ds` alone finds a day's files. No public data
 * exists for this system.
 *
 * How the data is made, and why it can be made in parallel:
 * - People are born on a day (their first visit) and live LIFETIME_DAYS days. Everything about a
 *   person (member or prospect, devices, number of visits and the days between them) and about
 *   each visit (channel, pages, funnel steps, times) is a pure function of (seed, birth day,
 *   person number, visit number), through a hash and a small seeded PRNG. So a worker can
 *   produce any day on its own: it walks the people born in the LIFETIME_DAYS before that day,
 *   keeps the visits that fall on it, and replays only the cheap funnel decisions of earlier
 *   visits to know who is already identified or subscribed. No state crosses days or workers.
 * - A visit is one session: events under a second to 15 minutes apart, at most 2 hours in all;
 *   visits of one person are at least a day apart. Weekday seasonality thins visits (Monday busiest, Saturday quietest); the start hour
 *   follows a morning and evening peak (UTC, a mostly European audience).
 * - Identity: anonymous until identified. Prospects identify when they sign up; members (who
 *   signed up before the data starts) identify when they log in. Some people use a second
 *   device (a second anonymousId) and identify there later. A newsletter sign-up sends an
 *   identify with traits but no userId. `subscription_started` comes from the billing back end
 *   (analytics-node): userId only, no anonymousId, no page context.
 * - Campaigns: email, cpc, social (with UTM parameters in the landing URL and in
 *   context.campaign, which analytics.js only sets on the URL that carries them), organic search
 *   and referral (referrer only), direct (neither). Some e-mail links carry long tracking
 *   parameters (URLs over 255 characters); some symptom descriptions are 300-2,000 characters
 *   of free text with quotes, line breaks and non-ASCII characters.
 * - Funnel: landing page view -> symptom_checker_started -> symptom_checker_completed ->
 *   signed_up -> subscription_started, with drop-off at each step, across visits.
 * - Delivery: `sentAt` and `receivedAt` trail `timestamp` by milliseconds, sometimes by minutes
 *   (retries). On 1 % of visits the device goes offline early on: the queued events are sent
 *   together 1-5 hours later. A day's drop therefore holds some events of the day before.
 * - A few lines a day arrive malformed, replacing the event they were: cut-off JSON, a
 *   timestamp that is not a date, or no `type`. They are counted in the manifest.
 * - eventsPerDay is a weekly average: the number of people born per day is calibrated once by
 *   simulating people in a counting-only mode (no serialisation), so a day lands within a few
 *   per cent of eventsPerDay times its weekday factor.
 * Output is streamed: per day, one gzip stream per file (files split the day by receivedAt
 * hour), each line encoded straight into ~1 MB buffers; nothing holds a day's events in memory.
 * A day is written to `*.partial` names and renamed when complete, so a reader that waits for a
 * day's files never sees half a file. One worker thread per core, each writing whole days.
 */

export interface GenerateSegmentOptions {
  out: string;
  seed: number;
  days: number;
  /** First day, YYYY-MM-DD (UTC). */
  start: string;
  /** Average lines per day over a week (weekdays above, weekends below). */
  eventsPerDay: number;
  onProgress?: (p: { rows: number; bytes: number; fraction: number }) => void;
}

export interface GenerateSegmentResult {
  /** Every file written, absolute paths, in day order. */
  files: string[];
  /** Lines written, malformed ones included. */
  rows: number;
  /** Compressed bytes written. */
  bytes: number;
  /** Lines that are not a valid event (also included in rows). */
  malformed: number;
}

export type EventType = 'track' | 'page' | 'identify';
export type MalformedKind = 'not_json' | 'bad_timestamp' | 'missing_type';

/** One day of the manifest written next to the drops (`<out>/manifest.json`). */
export interface DayManifest {
  date: string;
  /** Lines in the day's files, malformed ones included. */
  rows: number;
  /** Files relative to `<out>`. */
  files: string[];
  /** Valid events per type. */
  events: Record<EventType, number>;
  /** Valid track events per event name. */
  trackEvents: Record<string, number>;
  malformed: { total: number } & Record<MalformedKind, number>;
}

export interface SegmentManifest {
  generator: 'segment';
  seed: number;
  start: string;
  days: number;
  eventsPerDay: number;
  rows: number;
  malformed: number;
  dayManifests: DayManifest[];
}

// ---------------------------------------------------------------------------------------------
// Constants of the simulated world
// ---------------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** People come back for at most this many days after their first visit. */
const LIFETIME_DAYS = 56;
/** Visits end within this time of their start (gaps shrink to 200 ms at the limit; web sessions rarely reach it). */
const MAX_VISIT_MS = 2 * HOUR_MS;
/** A client event is normally sent within 4 minutes (retries); the network adds under a second. */
const MAX_NORMAL_DELAY_MS = 5 * MINUTE_MS;
/** Share of visits whose device goes offline part-way and flushes its queue 1-5 hours later. */
const OFFLINE_VISIT_SHARE = 0.01;
const MAX_OFFLINE_FLUSH_MS = 5 * HOUR_MS;
/**
 * How long after its start a visit can still deliver events: a visit that started the day before
 * is generated again for today only if it can reach today (generating it costs time even when
 * none of its events is written).
 */
const REACH_MS = MAX_VISIT_MS + MAX_NORMAL_DELAY_MS;
const OFFLINE_REACH_MS = MINUTE_MS + MAX_OFFLINE_FLUSH_MS + MAX_NORMAL_DELAY_MS + MAX_VISIT_MS;
/** Lines per file: a day is split into this many files (by receivedAt hour), at most 24. */
const LINES_PER_FILE = 250_000;
/** Bytes buffered per file before handing them to gzip. */
const WRITE_CHUNK_BYTES = 1 << 20;
/** gzip level 1: the drops are written once and read a few times; speed matters more than size. */
const GZIP_LEVEL = 1;
/** zlib streams pass stream options on to their Transform, though ZlibOptions does not declare them. */
const GZIP_OPTIONS: ZlibOptions & TransformOptions = { level: GZIP_LEVEL, chunkSize: 256 * 1024, writableHighWaterMark: 16 * WRITE_CHUNK_BYTES };
/** People simulated (counting only) to calibrate births per day against eventsPerDay. */
const CALIBRATION_PEOPLE = 20_000;

const WWW = 'https://www.vitalis.example';
const APP = 'https://app.vitalis.example';
const CLIENT_LIBRARIES = ['{"name":"analytics.js","version":"next-1.70.0"}', '{"name":"analytics.js","version":"next-1.66.0"}'];
const SERVER_CONTEXT = '{"library":{"name":"@segment/analytics-node","version":"2.1.3"}}';

/** Visits by weekday, Sunday first (getUTCDay order): health questions peak on Mondays. */
const WEEKDAY_FACTOR = [0.86, 1.15, 1.08, 1.04, 1.0, 0.92, 0.8];
const MAX_WEEKDAY_FACTOR = Math.max(...WEEKDAY_FACTOR);
const MEAN_KEEP = WEEKDAY_FACTOR.reduce((a, b) => a + b, 0) / 7 / MAX_WEEKDAY_FACTOR;
/** Visit start by UTC hour: quiet nights, a morning peak and a larger evening peak. */
const HOUR_WEIGHTS = [1.2, 0.7, 0.45, 0.35, 0.35, 0.6, 1.4, 2.6, 3.4, 3.5, 3.3, 3.2, 3.5, 3.3, 3.1, 3.0, 3.1, 3.3, 3.7, 4.2, 4.5, 4.2, 3.2, 2.0];

/** Tags keep the hash streams of different decisions apart. */
const TAG = {
  births: 1,
  person: 2,
  schedule: 3,
  gap: 4,
  visit: 5,
  keep: 6,
  hour: 7,
  plan: 8,
  flow: 9,
  event: 10,
  device: 11,
  malformed: 12,
  calibration: 13,
  offline: 14,
  userId: 15,
  email: 16,
  message: 17,
} as const;

// ---------------------------------------------------------------------------------------------
// Randomness: a hash for addressing decisions, mulberry32 for sequences
// ---------------------------------------------------------------------------------------------

/** lowbias32 (C. Wellons): a fast 32-bit integer hash with good avalanche. */
function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function hash2(a: number, b: number): number {
  return mix32(mix32(a) ^ Math.imul(b | 0, 0x9e3779b1));
}

function hash3(a: number, b: number, c: number): number {
  return hash2(hash2(a, b), c);
}

const unit = (h: number) => h / 4294967296;

class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)] as T;
  }

  /** A skewed pick: low indexes are popular (index ~ n * u^skew). */
  popular<T>(values: readonly T[], skew: number): T {
    return values[Math.floor(Math.pow(this.next(), skew) * values.length)] as T;
  }

  weighted<T>(choice: Weighted<T>): T {
    const u = this.next();
    const { cdf, values } = choice;
    for (let i = 0; i < cdf.length; i++) if (u < (cdf[i] as number)) return values[i] as T;
    return values[values.length - 1] as T;
  }

  /** Number of failures before the first success. */
  geometric(p: number, max: number): number {
    let n = 0;
    while (n < max && !this.chance(p)) n++;
    return n;
  }

  /** Log-normal with the given median, clamped. */
  logNormal(median: number, sigma: number, min: number, max: number): number {
    const u1 = this.next() || 1e-12;
    const u2 = this.next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.min(max, Math.max(min, median * Math.exp(sigma * z)));
  }
}

interface Weighted<T> {
  values: T[];
  cdf: number[];
}

function weighted<T>(entries: ReadonlyArray<readonly [T, number]>): Weighted<T> {
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let running = 0;
  return {
    values: entries.map(([v]) => v),
    cdf: entries.map(([, w]) => (running += w) / total),
  };
}

const HOURS = weighted(HOUR_WEIGHTS.map((w, hour) => [hour, w] as const));

// ---------------------------------------------------------------------------------------------
// Fast formatting: ISO timestamps and UUIDs are written for every event
// ---------------------------------------------------------------------------------------------

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Formats integer epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, caching the date part. */
class IsoClock {
  private cachedDay = Number.NaN;
  private prefix = '';

  format(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.cachedDay) {
      this.cachedDay = day;
      this.prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    }
    let rest = ms - day * DAY_MS;
    const h = Math.floor(rest / HOUR_MS);
    rest -= h * HOUR_MS;
    const m = Math.floor(rest / MINUTE_MS);
    rest -= m * MINUTE_MS;
    const s = Math.floor(rest / 1000);
    return `${this.prefix}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[rest - s * 1000]}Z`;
  }
}

function hex32(x: number): string {
  return (HEX[x >>> 24] as string) + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
}

/** One 32-bit word of an id: a hash chain over the id's integer tuple, started from a salt. */
function idWord(salt: number, kind: number, seed: number, a: number, b: number, c: number, d: number): number {
  return hash2(hash2(hash2(hash2(hash2(hash2(salt, kind), seed), a), b), c), d);
}

/**
 * A version-4 UUID that is a function of an integer tuple (deterministic, unlike
 * crypto.randomUUID). Four independently salted hash chains give 122 bits: ids of different
 * tuples collide with probability ~2^-122. (Drawing the words from a PRNG seeded with 32 bits
 * would repeat an id every ~65,000 ids, by the birthday bound.)
 */
function uuidOf(kind: number, seed: number, a: number, b: number, c: number, d: number): string {
  const w0 = hex32(idWord(0x243f6a88, kind, seed, a, b, c, d));
  const w1 = hex32((idWord(0x85a308d3, kind, seed, a, b, c, d) & 0xffff0fff) | 0x00004000);
  const w2 = hex32(((idWord(0x13198a2e, kind, seed, a, b, c, d) & 0x3fffffff) | 0x80000000) >>> 0);
  const w3 = hex32(idWord(0x03707344, kind, seed, a, b, c, d));
  return `${w0}-${w1.slice(0, 4)}-${w1.slice(4)}-${w2.slice(0, 4)}-${w2.slice(4)}${w3}`;
}

/** Births per day must stay below this: a person's number within their birth day takes 20 bits of their 32-bit number. */
const MAX_BIRTHS_PER_DAY = 1 << 20;

/**
 * A 32-bit number unique to a person within any 11 years (birth day modulo 4096, then the index
 * within the day), scrambled by a bijection (mix32 is one), so user ids look random yet never
 * collide.
 */
function personNumber(seed: number, birthDay: number, index: number, key: number): number {
  return mix32((((birthDay & 0xfff) << 20) | index) ^ hash2(seed, key));
}

const dayNumber = (date: string) => Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const weekdayOf = (day: number) => (day + 4) % 7; // 1970-01-01 was a Thursday
const keepRatio = (day: number) => (WEEKDAY_FACTOR[weekdayOf(day)] as number) / MAX_WEEKDAY_FACTOR;

// ---------------------------------------------------------------------------------------------
// The site: pages, articles, campaigns, devices
// ---------------------------------------------------------------------------------------------

const SUBJECTS = [
  ['headaches', 'neurology'],
  ['migraine', 'neurology'],
  ['insomnia', 'sleep'],
  ['sleep apnoea', 'sleep'],
  ['back pain', 'musculoskeletal'],
  ['acid reflux', 'digestive'],
  ['IBS', 'digestive'],
  ['hay fever', 'allergies'],
  ['eczema', 'skin'],
  ['psoriasis', 'skin'],
  ['anxiety', 'mental-health'],
  ['low mood', 'mental-health'],
  ['high blood pressure', 'heart'],
  ['palpitations', 'heart'],
  ['type 2 diabetes', 'metabolic'],
  ['iron deficiency', 'nutrition'],
  ['long COVID', 'respiratory'],
  ['asthma', 'respiratory'],
  ['menopause', 'womens-health'],
  ['tinnitus', 'ear-nose-throat'],
] as const;

const TITLE_TEMPLATES = [
  'What causes {s}?',
  '{S}: when to see a doctor',
  '7 myths about {s}',
  'How to manage {s} at home',
  'Is it {s} or something else?',
  'The science of {s}, explained',
  '{S} in your 20s, 40s and 60s',
  'What does "{s}" really mean?',
  'Living with {s}: a practical guide',
  'Foods that help with {s}',
  '{S} and sleep – what the research says',
  'Tests for {s}: what to expect',
];

const slugify = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
const capitalise = (text: string) => (text === text.toUpperCase() ? text : text.charAt(0).toUpperCase() + text.slice(1));

interface Article {
  id: number;
  slug: string;
  title: string;
  category: string;
  words: number;
}

/** The site's content does not depend on the run's seed: the same site under every seed. */
const ARTICLES: Article[] = (() => {
  const r = new Random(20_240_301);
  const articles: Article[] = [];
  TITLE_TEMPLATES.forEach((template, t) =>
    SUBJECTS.forEach(([subject, category], s) => {
      const title = template.replace('{s}', subject).replace('{S}', capitalise(subject));
      articles.push({ id: 1000 + t * SUBJECTS.length + s, slug: slugify(title), title, category, words: r.between(450, 2600) });
    }),
  );
  // Shuffled once, so that the popular (low-index) articles mix subjects and templates.
  for (let i = articles.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [articles[i], articles[j]] = [articles[j] as Article, articles[i] as Article];
  }
  return articles;
})();

const SEARCH_TERMS = ['headache behind eyes', 'rash on arm', 'tired all the time', 'chest pain when breathing', 'sore throat no fever', 'dizzy when standing up', 'blood test results', 'vitamin d', 'fever 39', 'lower back pain left side', 'can’t sleep', 'hay fever tablets'];

type PageKind = 'home' | 'checker_landing' | 'article' | 'condition' | 'pricing' | 'about' | 'search' | 'login' | 'signup' | 'welcome' | 'dashboard' | 'checker' | 'results' | 'plans' | 'appointments';

/** One page view: where the visitor is, and the JSON of it (built only if an event is written). */
interface PageView {
  kind: PageKind;
  url: string;
  path: string;
  search: string;
  title: string;
  name: string;
  referrer: string;
  /** context.campaign JSON when the URL carries UTM parameters, else ''. */
  campaign: string;
  article: Article | null;
  /** The page's JSON (properties of a page call, context.page), built on first use. */
  json: string;
  /** The whole context of client events on this page, built on first use (a visit stays on one device). */
  context: string;
}

type Channel = 'email' | 'cpc' | 'social' | 'organic' | 'referral' | 'direct';

const FIRST_VISIT_CHANNELS = weighted<Channel>([
  ['organic', 34],
  ['cpc', 22],
  ['social', 14],
  ['referral', 9],
  ['direct', 17],
  ['email', 4],
]);
const RETURN_VISIT_CHANNELS = weighted<Channel>([
  ['direct', 38],
  ['email', 22],
  ['organic', 20],
  ['cpc', 7],
  ['social', 8],
  ['referral', 5],
]);
const RETURN_VISIT_CHANNELS_NO_EMAIL = weighted<Channel>([
  ['direct', 45],
  ['organic', 27],
  ['cpc', 12],
  ['social', 10],
  ['referral', 6],
]);

const ORGANIC_REFERRERS = weighted([
  ['https://www.google.com/', 78],
  ['https://www.bing.com/', 10],
  ['https://duckduckgo.com/', 7],
  ['https://www.ecosia.org/', 3],
  ['https://search.yahoo.com/', 2],
]);
const REFERRAL_REFERRERS = [
  'https://www.mumsnet.com/talk/health/4981733-anyone-used-an-online-symptom-checker',
  'https://www.reddit.com/r/AskDocs/comments/1b7x2kq/is_this_worth_seeing_a_gp_about/',
  'https://news.ycombinator.com/item?id=39612345',
  'https://healthunlocked.com/asthmaandlunguk/posts/148263915/peak-flow-diary',
  'https://medium.com/@drnadia/five-apps-that-actually-help-with-sleep-2f9c1e0b7d3a',
  'https://www.theguardian.com/society/2025/mar/03/digital-health-startups-gp-waiting-times',
];
const CPC_CAMPAIGNS = ['symptom_checker_search', 'brand_search', 'allergy_season_2025', 'sleep_better_q1'];
const CPC_TERMS = ['symptom checker', 'headache and nausea', 'why am i always tired', 'rash on arm', 'online doctor uk', 'chest pain when breathing'];
const SOCIAL_SOURCES = [
  ['facebook', 'https://l.facebook.com/'],
  ['instagram', 'https://l.instagram.com/'],
  ['tiktok', 'https://www.tiktok.com/'],
  ['linkedin', 'https://www.linkedin.com/'],
] as const;
const SOCIAL_CAMPAIGNS = ['spring_wellness', 'know_your_symptoms', 'creator_collab_sleep'];
const SOCIAL_CONTENT = ['carousel', 'video_15s', 'story'];
const EMAIL_CONTENT = ['header', 'article_1', 'article_2', 'footer_cta'];
const MEMBER_EMAIL_CAMPAIGNS = ['checkup_reminder', 'plan_renewal', 'new_feature_appointments'];

type DeviceType = 'mobile' | 'desktop' | 'tablet';
const DEVICE_TYPES = weighted<DeviceType>([
  ['mobile', 58],
  ['desktop', 36],
  ['tablet', 6],
]);
const USER_AGENTS: Record<DeviceType, string[]> = {
  mobile: [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.105 Mobile Safari/537.36',
    'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.178 Mobile Safari/537.36',
    'Mozilla/5.0 (Linux; Android 12; SAMSUNG SM-A525F) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
  ],
  desktop: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0',
  ],
  tablet: [
    'Mozilla/5.0 (iPad; CPU OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.90 Safari/537.36',
  ],
};
const USER_AGENT_JSON = Object.fromEntries(Object.entries(USER_AGENTS).map(([type, agents]) => [type, agents.map((agent) => JSON.stringify(agent))])) as Record<DeviceType, string[]>;
const LOCALES = weighted([
  ['en-GB', 45],
  ['en-US', 20],
  ['de-DE', 10],
  ['nl-NL', 8],
  ['fr-FR', 7],
  ['en-IE', 5],
  ['es-ES', 5],
]);
const COUNTRY_OF_LOCALE: Record<string, string> = { 'en-GB': 'GB', 'en-US': 'US', 'de-DE': 'DE', 'nl-NL': 'NL', 'fr-FR': 'FR', 'en-IE': 'IE', 'es-ES': 'ES' };
/** First octets of consumer ISP ranges; the last octet is zeroed, as a GDPR-minded site keeps IPs. */
const IP_FIRST_OCTETS = [31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90, 92, 93, 94, 95, 109, 151, 176, 185, 188, 212, 213, 217];
const AGE_BANDS = weighted([
  ['18-24', 14],
  ['25-34', 27],
  ['35-44', 23],
  ['45-54', 17],
  ['55-64', 12],
  ['65+', 7],
]);
const FIRST_NAMES = ['Amelia', 'Oliver', 'Isla', 'George', 'Ava', 'Noah', 'Mia', 'Arthur', 'Sophie', 'Leo', 'Emma', 'Lukas', 'Hannah', 'Finn', 'Chloé', 'Jules', 'Lucía', 'Mateo', 'Saoirse', 'Cian', 'Priya', 'Aarav', 'Fatima', 'Yusuf', 'Zoe', 'Daan', 'Sanne', 'Ines', 'Grace', 'Ethan'];
/** First names as an e-mail address spells them (accents dropped). */
const EMAIL_FIRST_NAMES = FIRST_NAMES.map((name) => name.toLowerCase().normalize('NFD').replace(/[^a-z]/g, ''));
const LAST_NAMES = ['smith', 'jones', 'taylor', 'brown', 'wilson', 'evans', 'muller', 'schmidt', 'dubois', 'martin', 'garcia', 'lopez', 'murphy', 'kelly', 'devries', 'jansen', 'patel', 'khan', 'ali', 'okafor', 'nowak', 'rossi'];
const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'];

const PLANS = {
  premium_monthly: { price: 9.99, period: 'monthly' },
  premium_annual: { price: 89.99, period: 'annual' },
  family_annual: { price: 149.99, period: 'annual' },
} as const;
type PaidPlan = keyof typeof PLANS;
const PAID_PLANS = weighted<PaidPlan>([
  ['premium_monthly', 62],
  ['premium_annual', 30],
  ['family_annual', 8],
]);

interface Question {
  id: string;
  text: string;
  answers: string[];
}
const QUESTIONS: Question[] = [
  { id: 'q_main_symptom', text: 'What is your main symptom?', answers: ['Headache', 'Fatigue', 'Cough', 'Rash', 'Stomach pain', 'Back pain', 'Dizziness', 'Sore throat'] },
  { id: 'q_onset', text: 'When did it start?', answers: ['Today', '1–3 days ago', '4–7 days ago', 'More than a week ago', 'More than a month ago'] },
  { id: 'q_severity', text: 'How bad is it right now?', answers: ['Mild', 'Moderate', 'Severe'] },
  { id: 'q_fever', text: 'Do you have a fever (38 °C or above)?', answers: ['Yes', 'No', 'Not sure'] },
  { id: 'q_breathing', text: 'Any trouble breathing?', answers: ['No', 'A little', 'Yes, even at rest'] },
  { id: 'q_medication', text: 'Have you taken anything for it?', answers: ['No', 'Paracetamol', 'Ibuprofen', 'Antihistamines', 'Something else'] },
  { id: 'q_conditions', text: 'Do you have any long-term conditions?', answers: ['None', 'Asthma', 'Diabetes', 'High blood pressure', 'Other'] },
  { id: 'q_age', text: 'How old are you?', answers: ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'] },
  { id: 'q_sex', text: 'Sex assigned at birth', answers: ['Female', 'Male', 'Prefer not to say'] },
  { id: 'q_travel', text: 'Have you travelled abroad in the last 4 weeks?', answers: ['No', 'Yes, within Europe', 'Yes, outside Europe'] },
];
const TRIAGE = weighted([
  ['self_care', 34],
  ['pharmacy', 22],
  ['see_gp_routine', 24],
  ['see_gp_urgent', 12],
  ['call_111', 6],
  ['emergency', 2],
]);
/** Free-text fragments of symptom descriptions: quotes, line breaks and non-ASCII on purpose. */
const SYMPTOM_SENTENCES = [
  'It started about three days ago with a dull ache behind my eyes.',
  'The pain gets worse in the evening and when I look at screens for a long time.',
  'I’ve had a temperature of 38.5 °C on and off since Tuesday.',
  'My GP said it was "probably viral" but it hasn’t gone away.',
  'I feel exhausted even after eight hours of sleep, and I wake up around 4am most nights.',
  'There is a red, itchy patch on the inside of my left elbow that spreads when I scratch it.',
  'Paracetamol helps for a couple of hours, then the throbbing comes back.',
  'I get short of breath climbing the stairs, which never used to happen.',
  'My heart sometimes races for no reason — maybe 20 or 30 seconds — then settles down.',
  'I had COVID in January and since then I struggle to concentrate at work.',
  'Coffee seems to make it worse; I’ve cut down to one cup a day.',
  'My mum has high blood pressure and I’m worried this might be the same thing.',
  'The rash looks a bit like a ring, lighter in the middle.',
  'I’ve been feeling dizzy when I stand up quickly, especially in the morning.',
  'No vomiting, but I feel sick after eating, mostly after fatty food.',
  'I tried an antihistamine (cetirizine 10 mg) and it didn’t make much difference.',
  'Sleeping on my back is the only position that doesn’t hurt.',
  'I went to a café yesterday and within an hour my lips felt tingly.',
  'On a scale of 1–10 I’d say the pain is a 6, sometimes a 7.',
  'It’s been like this for about two weeks now and it is affecting my work.',
  'I’m 34, I don’t smoke, and I run twice a week.',
  'I noticed the symptoms after starting a new medication (sertraline, 50 mg).',
  'Sometimes my fingers go numb and white in the cold.',
  'I can’t tell if this is anxiety or something physical.',
];

// ---------------------------------------------------------------------------------------------
// People and visits
// ---------------------------------------------------------------------------------------------

/** The cheap part of a person: enough to know on which days they visit. */
interface Schedule {
  /** The person's identity: (run seed, birth day, number within the day). */
  seed: number;
  birthDay: number;
  index: number;
  personSeed: number;
  member: boolean;
  visits: number;
  gapMeanDays: number;
}

function scheduleOf(seed: number, birthDay: number, index: number, into: Schedule): Schedule {
  const personSeed = hash3(seed, birthDay, index);
  const r = new Random(hash2(personSeed, TAG.schedule));
  // Members signed up before the data begins; they come back far more often than prospects.
  const member = r.chance(0.22);
  into.seed = seed;
  into.birthDay = birthDay;
  into.index = index;
  into.personSeed = personSeed;
  into.member = member;
  into.visits = member ? 2 + r.geometric(0.18, 38) : r.chance(0.6) ? 1 : 2 + r.geometric(0.4, 10);
  into.gapMeanDays = member ? 3 : 6;
  return into;
}

const emptySchedule = (): Schedule => ({ seed: 0, birthDay: 0, index: 0, personSeed: 0, member: false, visits: 0, gapMeanDays: 0 });

/** Day offset of visit k after visit k-1 (visits are at least a day apart). */
function gapDays(schedule: Schedule, visit: number): number {
  return 1 + Math.floor(-Math.log(1 - unit(hash3(schedule.personSeed, TAG.gap, visit))) * schedule.gapMeanDays);
}

const visitSeedOf = (personSeed: number, visit: number) => hash3(personSeed, TAG.visit, visit);
const visitKept = (visitSeed: number, day: number) => unit(hash2(visitSeed, TAG.keep)) < keepRatio(day);
function visitStartMs(visitSeed: number, day: number): number {
  const r = new Random(hash2(visitSeed, TAG.hour));
  return day * DAY_MS + r.weighted(HOURS) * HOUR_MS + r.int(HOUR_MS);
}

/** When a visit's device was offline: events from `from` on are sent at `flushAt` (no offline: Infinity). */
interface Offline {
  from: number;
  flushAt: number;
}

function offlineOf(visitSeed: number, startMs: number): Offline {
  const r = new Random(hash2(visitSeed, TAG.offline));
  if (!r.chance(OFFLINE_VISIT_SHARE)) return { from: Infinity, flushAt: Infinity };
  // Within the first minute: most visits last a few minutes, so later starts would rarely matter.
  const from = startMs + r.int(MINUTE_MS);
  return { from, flushAt: from + r.between(HOUR_MS, MAX_OFFLINE_FLUSH_MS) };
}

interface Device {
  anonymousId: string;
  type: DeviceType;
  /** The context keys that come before `page` and stay constant on a device: device, ip, library, locale. */
  contextHead: string;
  /** The JSON string of the device's user agent (context.userAgent, after `page`). */
  userAgentJson: string;
}

interface Person {
  seed: number;
  birthDay: number;
  index: number;
  member: boolean;
  userId: string;
  email: string;
  firstName: string;
  ageBand: string;
  country: string;
  /** Members: the day they signed up, before the data. */
  memberSignupDay: number;
  memberPlan: string;
  devices: Device[];
}

function buildPerson(schedule: Schedule): Person {
  const { seed, birthDay, index } = schedule;
  const r = new Random(hash2(schedule.personSeed, TAG.person));
  const locale = r.weighted(LOCALES);
  const nameIndex = r.int(FIRST_NAMES.length);
  const firstName = FIRST_NAMES[nameIndex] as string;
  // Unique by construction: accounts have unique ids and e-mail addresses.
  const userId = `usr_${personNumber(seed, birthDay, index, TAG.userId).toString(36).padStart(7, '0')}`;
  const email = `${EMAIL_FIRST_NAMES[nameIndex]}.${r.pick(LAST_NAMES)}.${personNumber(seed, birthDay, index, TAG.email).toString(36)}@${r.pick(EMAIL_DOMAINS)}`;
  const firstType = r.weighted(DEVICE_TYPES);
  const deviceCount = r.chance(schedule.member ? 0.25 : 0.08) ? 2 : 1;
  const devices: Device[] = [];
  for (let d = 0; d < deviceCount; d++) {
    const type: DeviceType = d === 0 ? firstType : firstType === 'desktop' ? 'mobile' : r.chance(0.8) ? 'desktop' : 'tablet';
    const dr = new Random(hash3(schedule.personSeed, TAG.device, d));
    const ip = `${dr.pick(IP_FIRST_OCTETS)}.${dr.int(256)}.${dr.int(256)}.0`;
    devices.push({
      anonymousId: uuidOf(TAG.device, seed, birthDay, index, d, 0),
      type,
      contextHead: `"device":{"type":"${type}"},"ip":"${ip}","library":${dr.pick(CLIENT_LIBRARIES)},"locale":"${locale}"`,
      userAgentJson: dr.pick(USER_AGENT_JSON[type]),
    });
  }
  return {
    seed,
    birthDay,
    index,
    member: schedule.member,
    userId,
    email,
    firstName,
    ageBand: r.weighted(AGE_BANDS),
    country: COUNTRY_OF_LOCALE[locale] ?? 'GB',
    memberSignupDay: birthDay - r.between(20, 900),
    memberPlan: r.chance(0.5) ? r.weighted(PAID_PLANS) : 'free',
    devices,
  };
}

/** What a person has done before a visit: the only state carried from visit to visit. */
interface PersonState {
  /** 0 none, 1 checker started, 2 checker completed, 3 signed up (or member), 4 subscribed. */
  stage: number;
  userKnown: boolean;
  /** Devices (bit per device) on which the person has identified. */
  identified: number;
  hasEmail: boolean;
  plan: string;
  signupDay: number;
}

function initialState(person: Person): PersonState {
  return {
    stage: person.member ? (person.memberPlan === 'free' ? 3 : 4) : 0,
    userKnown: person.member,
    identified: 0,
    hasEmail: person.member,
    plan: person.member ? person.memberPlan : 'free',
    signupDay: person.member ? person.memberSignupDay : -1,
  };
}

type Landing = 'home' | 'checker_landing' | 'article' | 'condition' | 'pricing' | 'dashboard';

/** The decisions of one visit, taken before any event is made (cheap to replay). */
interface VisitPlan {
  device: number;
  channel: Channel;
  landing: Landing;
  bounce: boolean;
  browseBefore: number;
  browseAfter: number;
  /** State at the start of the visit, as the events need it. */
  identifiedAtStart: boolean;
  userKnownAtStart: boolean;
  planAtStart: string;
  signupDayAtStart: number;
  hasEmailAtStart: boolean;
  login: boolean;
  reidentify: boolean;
  newsletter: boolean;
  checkerStart: boolean;
  checkerComplete: boolean;
  signup: boolean;
  subscribe: boolean;
  paidPlan: PaidPlan;
  appointment: boolean;
}

const LANDINGS: Record<Channel, Weighted<Landing>> = {
  cpc: weighted<Landing>([['checker_landing', 50], ['condition', 30], ['home', 20]]),
  social: weighted<Landing>([['article', 70], ['checker_landing', 20], ['home', 10]]),
  email: weighted<Landing>([['article', 60], ['dashboard', 25], ['pricing', 15]]),
  organic: weighted<Landing>([['article', 55], ['condition', 35], ['home', 10]]),
  referral: weighted<Landing>([['article', 70], ['home', 15], ['condition', 15]]),
  direct: weighted<Landing>([['home', 50], ['dashboard', 35], ['checker_landing', 15]]),
};

/** Plans visit `visit` of a person and advances their state. */
function planVisit(person: Person, state: PersonState, visitSeed: number, visit: number, day: number): VisitPlan {
  const r = new Random(hash2(visitSeed, TAG.plan));
  const device = person.devices.length > 1 && visit > 0 && r.chance(0.4) ? 1 : 0;
  const identifiedAtStart = (state.identified & (1 << device)) !== 0;
  const channel = r.weighted(visit === 0 ? FIRST_VISIT_CHANNELS : state.hasEmail ? RETURN_VISIT_CHANNELS : RETURN_VISIT_CHANNELS_NO_EMAIL);
  let landing = r.weighted(LANDINGS[channel]);
  // Only a device that is logged in lands on the dashboard; others land on the home page.
  if (landing === 'dashboard' && !identifiedAtStart) landing = 'home';
  const bounce = r.chance(state.userKnown ? 0.3 : 0.45);
  const plan: VisitPlan = {
    device,
    channel,
    landing,
    bounce,
    browseBefore: bounce ? 0 : r.geometric(0.45, 6),
    browseAfter: bounce ? 0 : r.geometric(0.55, 6),
    identifiedAtStart,
    userKnownAtStart: state.userKnown,
    planAtStart: state.plan,
    signupDayAtStart: state.signupDay,
    hasEmailAtStart: state.hasEmail,
    login: false,
    reidentify: false,
    newsletter: false,
    checkerStart: false,
    checkerComplete: false,
    signup: false,
    subscribe: false,
    paidPlan: r.weighted(PAID_PLANS),
    appointment: false,
  };
  if (bounce) return plan;
  plan.login = state.userKnown && !identifiedAtStart && r.chance(0.7);
  plan.reidentify = identifiedAtStart && r.chance(0.3);
  plan.newsletter = !state.hasEmail && r.chance(0.03);
  plan.checkerStart = r.chance(landing === 'checker_landing' ? 0.55 : visit === 0 ? 0.14 : 0.1);
  plan.checkerComplete = plan.checkerStart && r.chance(0.7);
  // Intent carries over: having completed the checker on an earlier visit, people come back to sign up.
  plan.signup = !state.userKnown && r.chance(plan.checkerComplete ? 0.3 : state.stage >= 2 ? 0.15 : 0.015);
  // Paying and booking need a logged-in device.
  const loggedIn = identifiedAtStart || plan.login || plan.signup;
  plan.subscribe = loggedIn && state.stage < 4 && r.chance(plan.signup ? 0.3 : 0.08);
  plan.appointment = loggedIn && (state.stage === 4 || plan.subscribe) && r.chance(0.12);

  if (plan.checkerStart) state.stage = Math.max(state.stage, 1);
  if (plan.checkerComplete) state.stage = Math.max(state.stage, 2);
  if (plan.signup) {
    state.stage = Math.max(state.stage, 3);
    state.userKnown = true;
    state.signupDay = day;
  }
  if (plan.subscribe) {
    state.stage = 4;
    state.plan = plan.paidPlan;
  }
  if (plan.signup || plan.login) state.identified |= 1 << device;
  if (plan.signup || plan.newsletter) state.hasEmail = true;
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Events of a visit
// ---------------------------------------------------------------------------------------------

/** Where the events of a visit go: a day file writer, or a counter for calibration. */
interface EventSink {
  /** Client event on the current page. `build` makes the JSON body (only called if written). */
  client(visit: VisitWriter, type: EventType, ts: number, label: string, build: BodyBuilder): void;
  /** Back-end event: userId only, no anonymousId, no page. */
  server(visit: VisitWriter, ts: number, event: string, build: BodyBuilder): void;
}

/** Builds `properties`/`traits` JSON from the event's own PRNG. */
type BodyBuilder = ((r: Random) => string) | null;

/** Per-visit values the sink needs while writing events. */
interface VisitWriter {
  person: Person;
  /** The visit's number in the person's life (part of its events' message ids). */
  visitNumber: number;
  visitSeed: number;
  offline: Offline;
  eventIndex: number;
  device: Device;
  userId: string | null;
  personUserId: string;
  page: PageView;
}

function utmQuery(params: ReadonlyArray<readonly [string, string]>): string {
  return `?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}

function campaignJson(params: ReadonlyArray<readonly [string, string]>): string {
  // context.campaign names the utm_ parameters without the prefix (utm_campaign -> name).
  return `{${params
    .filter(([k]) => k.startsWith('utm_'))
    .map(([k, v]) => `${JSON.stringify(k === 'utm_campaign' ? 'name' : k.slice(4))}:${JSON.stringify(v)}`)
    .join(',')}}`;
}

function isoWeek(day: number): string {
  const date = new Date(day * DAY_MS);
  const thursday = day - ((date.getUTCDay() + 6) % 7) + 3;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Math.floor(Date.UTC(year, 0, 1) / DAY_MS)) / 7);
  return `${year}_w${PAD2[week]}`;
}

/** A random token of URL-safe characters, for click ids and e-mail tracking parameters. */
function token(r: Random, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[r.int(64)];
  return s;
}

function symptomDescription(r: Random, minChars: number, maxChars: number): string {
  const target = minChars + Math.floor(Math.pow(r.next(), 1.5) * (maxChars - minChars));
  let text = r.pick(SYMPTOM_SENTENCES);
  while (text.length < target) text += (r.chance(0.12) ? '\n\n' : ' ') + r.pick(SYMPTOM_SENTENCES);
  return text.length > maxChars ? text.slice(0, maxChars).trimEnd() : text;
}

/**
 * Makes the events of one visit, in time order, into a sink. All structure (pages, steps,
 * times) comes from the visit's flow PRNG; bodies come from each event's own PRNG, so a sink
 * may skip building a body without changing anything else. A class rather than a function with
 * local closures: under tsx every named closure costs a defineProperty per visit.
 */
class VisitRun {
  private readonly r: Random;
  private ts: number;
  private readonly deadline: number;
  private readonly visit: VisitWriter;
  private currentPlan: string;

  constructor(
    private readonly person: Person,
    private readonly plan: VisitPlan,
    visitSeed: number,
    visitNumber: number,
    private readonly startMs: number,
    private readonly day: number,
    private readonly sink: EventSink,
  ) {
    this.r = new Random(hash2(visitSeed, TAG.flow));
    this.ts = startMs;
    this.deadline = startMs + MAX_VISIT_MS;
    this.currentPlan = plan.planAtStart;
    this.visit = {
      person,
      visitNumber,
      visitSeed,
      offline: offlineOf(visitSeed, startMs),
      eventIndex: 0,
      device: person.devices[plan.device] as Device,
      userId: plan.identifiedAtStart ? person.userId : null,
      personUserId: person.userId,
      page: this.landingPage(),
    };
  }

  /** The landing page, with the referrer and campaign of the visit's channel. */
  private landingPage(): PageView {
    const r = this.r;
    let referrer = '';
    let utm: Array<readonly [string, string]> = [];
    let extraQuery = '';
    switch (this.plan.channel) {
      case 'cpc': {
        const google = r.chance(0.78);
        referrer = google ? 'https://www.google.com/' : 'https://www.bing.com/';
        utm = [
          ['utm_source', google ? 'google' : 'bing'],
          ['utm_medium', 'cpc'],
          ['utm_campaign', r.pick(CPC_CAMPAIGNS)],
          ['utm_term', r.pick(CPC_TERMS)],
          ['utm_content', `rsa_v${r.between(1, 3)}`],
        ];
        extraQuery = google ? `&gclid=${token(r, 90)}` : `&msclkid=${hex32(r.uint32())}${hex32(r.uint32())}`;
        break;
      }
      case 'social': {
        const [source, socialReferrer] = r.pick(SOCIAL_SOURCES);
        // In-app browsers often send no referrer.
        referrer = r.chance(0.3) ? '' : socialReferrer;
        utm = [
          ['utm_source', source],
          ['utm_medium', 'social'],
          ['utm_campaign', r.pick(SOCIAL_CAMPAIGNS)],
          ['utm_content', r.pick(SOCIAL_CONTENT)],
        ];
        break;
      }
      case 'email': {
        referrer = r.chance(0.15) ? 'https://mail.google.com/' : '';
        const lifecycle = this.plan.userKnownAtStart && r.chance(0.5);
        utm = [
          ['utm_source', lifecycle ? 'lifecycle' : 'newsletter'],
          ['utm_medium', 'email'],
          ['utm_campaign', lifecycle ? r.pick(MEMBER_EMAIL_CAMPAIGNS) : `weekly_digest_${isoWeek(this.day)}`],
          ['utm_content', r.pick(EMAIL_CONTENT)],
        ];
        // The e-mail tool's own tracking parameters: these URLs run past 255 characters.
        if (r.chance(0.4)) extraQuery = `&mc_cid=${hex32(r.uint32())}${HEX[r.int(256)]}&mc_eid=${hex32(r.uint32())}${HEX[r.int(256)]}&_hsenc=p2ANqtz-${token(r, 150)}&_hsmi=${r.between(100_000_000, 999_999_999)}`;
        break;
      }
      case 'organic':
        referrer = r.weighted(ORGANIC_REFERRERS);
        break;
      case 'referral':
        referrer = r.pick(REFERRAL_REFERRERS);
        break;
      case 'direct':
        break;
    }
    const search = utm.length > 0 ? utmQuery(utm) + extraQuery : '';
    return makePage(this.plan.landing, r, referrer, search, utm.length > 0 ? campaignJson(utm) : '');
  }

  /** Moves the clock on by a gap, never past the visit's time limit by more than 200 ms a step. */
  private wait(gap: number): void {
    this.ts = this.ts + gap <= this.deadline ? this.ts + gap : Math.max(this.ts + 200, this.deadline);
  }

  private waitLogNormal(median: number, sigma: number, min: number, max: number): void {
    this.wait(Math.round(this.r.logNormal(median, sigma, min, max)));
  }

  private goTo(kind: PageKind): void {
    this.waitLogNormal(40_000, 1.1, 3_000, 15 * MINUTE_MS);
    this.visit.page = makePage(kind, this.r, this.visit.page.url, '', '');
    this.sink.client(this.visit, 'page', this.ts, this.visit.page.name, null);
  }

  track(event: string, build: BodyBuilder): void {
    this.waitLogNormal(6_000, 0.9, 400, 2 * MINUTE_MS);
    this.sink.client(this.visit, 'track', this.ts, event, build);
  }

  private identify(build: BodyBuilder): void {
    this.waitLogNormal(300, 0.5, 30, 3_000);
    this.sink.client(this.visit, 'identify', this.ts, '', build);
  }

  private traits(full: boolean, signupDay: number): BodyBuilder {
    const person = this.person;
    const base = `"email":${JSON.stringify(person.email)},"plan":"${this.currentPlan}"`;
    if (!full) return () => `{${base}}`;
    return () => `{"age_band":"${person.ageBand}","country":"${person.country}",${base},"first_name":${JSON.stringify(person.firstName)},"signup_date":"${dateOf(signupDay)}"}`;
  }

  private browse(count: number): void {
    for (let i = 0; i < count; i++) {
      this.goTo(browsePage(this.r, this.visit.userId !== null));
      pageTracks(this.visit.page, this.r, this);
    }
  }

  run(): void {
    const { plan, person, visit, r } = this;
    this.sink.client(visit, 'page', this.ts, visit.page.name, null);
    pageTracks(visit.page, r, this);
    if (plan.reidentify) this.identify(this.traits(false, plan.signupDayAtStart));

    if (plan.login) {
      this.goTo('login');
      this.waitLogNormal(15_000, 0.6, 3_000, 3 * MINUTE_MS);
      visit.userId = person.userId;
      this.identify(this.traits(true, plan.signupDayAtStart));
      this.goTo('dashboard');
    }

    this.browse(plan.browseBefore);

    if (plan.newsletter) {
      const location = visit.page.kind === 'article' ? 'article_footer' : 'site_footer';
      this.track('newsletter_subscribed', () => `{"list":"weekly_digest","location":"${location}"}`);
      // A newsletter sign-up identifies with traits only: userId stays null for a prospect.
      this.identify(() => `{"email":${JSON.stringify(person.email)},"newsletter_opt_in":true}`);
    }

    if (plan.checkerStart) this.symptomChecker();

    if (plan.signup) {
      this.goTo('signup');
      this.waitLogNormal(40_000, 0.5, 8_000, 5 * MINUTE_MS);
      visit.userId = person.userId;
      this.identify(this.traits(true, this.day));
      const from = plan.checkerComplete ? 'symptom_checker_results' : 'signup_page';
      this.track('signed_up', (er) => `{"method":"${er.weighted(SIGNUP_METHODS)}","plan":"free","source":"${from}"}`);
      this.goTo('welcome');
    }

    if (plan.subscribe) {
      this.goTo('plans');
      const paid = plan.paidPlan;
      const chosen = PLANS[paid];
      this.track('checkout_started', () => `{"currency":"EUR","plan":"${paid}","price":${chosen.price}}`);
      this.waitLogNormal(60_000, 0.5, 15_000, 8 * MINUTE_MS);
      this.sink.server(visit, this.ts, 'subscription_started', (er) => `{"billing_period":"${chosen.period}","currency":"EUR","plan":"${paid}","price":${chosen.price},"subscription_id":"sub_${hex32(er.uint32())}${hex32(er.uint32())}","trial_days":${er.chance(0.4) ? 7 : 0}}`);
      this.currentPlan = paid;
      this.goTo('dashboard');
    }

    if (plan.appointment) {
      this.goTo('appointments');
      this.track('appointment_booked', (er) => `{"appointment_type":"${er.pick(['video_gp', 'nurse_chat', 'dermatology', 'physio'])}","lead_time_days":${er.between(0, 9)}}`);
    }

    this.browse(plan.browseAfter);
  }

  private symptomChecker(): void {
    const { plan, visit, r } = this;
    const entry = visit.page.kind === 'checker_landing' ? 'landing_page' : visit.page.kind === 'article' ? 'article_cta' : 'navigation';
    this.goTo('checker');
    this.track('symptom_checker_started', (er) => `{"body_area":"${er.pick(BODY_AREAS)}","checker_version":"3.4.1","entry_point":"${entry}"}`);
    const questions = 4 + r.int(QUESTIONS.length - 3);
    const answered = plan.checkerComplete ? questions : r.int(questions);
    for (let q = 0; q < answered; q++) {
      const question = QUESTIONS[q] as Question;
      this.waitLogNormal(9_000, 0.7, 1_500, 3 * MINUTE_MS);
      this.sink.client(visit, 'track', this.ts, 'symptom_checker_question_answered', (er) => `{"answer":${JSON.stringify(er.pick(question.answers))},"question":${JSON.stringify(question.text)},"question_id":"${question.id}","step":${q + 1}}`);
    }
    if (!plan.checkerComplete) return;
    this.goTo('results');
    const durationSeconds = Math.round((this.ts - this.startMs) / 1000);
    this.track('symptom_checker_completed', (er) => {
      const symptoms = [...new Set(Array.from({ length: er.between(1, 3) }, () => JSON.stringify(er.pick(MAIN_SYMPTOMS))))];
      const kind = er.next();
      // Most completions carry the free-text description, often far beyond 255 characters.
      const description = kind < 0.55 ? symptomDescription(er, 300, 2000) : kind < 0.8 ? symptomDescription(er, 40, 200) : null;
      return `{"duration_seconds":${durationSeconds},"questions_answered":${answered},"severity":"${er.pick(SEVERITIES)}",${description === null ? '' : `"symptom_description":${JSON.stringify(description)},`}"symptoms":[${symptoms.join(',')}],"triage_outcome":"${er.weighted(TRIAGE)}"}`;
    });
  }
}

const BODY_AREAS = ['head', 'chest', 'abdomen', 'skin', 'back', 'general'];
const SEVERITIES = ['mild', 'moderate', 'severe'];
const MAIN_SYMPTOMS = (QUESTIONS[0] as Question).answers.map((a) => a.toLowerCase());

const SIGNUP_METHODS = weighted([
  ['email', 58],
  ['google', 30],
  ['apple', 12],
]);

const BROWSE_ANONYMOUS = weighted<PageKind>([
  ['article', 50],
  ['condition', 20],
  ['home', 8],
  ['pricing', 7],
  ['search', 6],
  ['about', 3],
  ['checker_landing', 6],
]);
const BROWSE_LOGGED_IN = weighted<PageKind>([
  ['article', 40],
  ['condition', 12],
  ['dashboard', 18],
  ['appointments', 6],
  ['search', 8],
  ['pricing', 4],
  ['home', 6],
  ['checker_landing', 6],
]);

function browsePage(r: Random, loggedIn: boolean): PageKind {
  return r.weighted(loggedIn ? BROWSE_LOGGED_IN : BROWSE_ANONYMOUS);
}

/** Tracks that may follow a page view on this page (article reads, shares, clicks, searches). */
function pageTracks(page: PageView, r: Random, visit: VisitRun): void {
  if (page.kind === 'article' && page.article) {
    const article = page.article;
    if (r.chance(0.75))
      visit.track('article_viewed', () => `{"article_id":${article.id},"category":"${article.category}","reading_time_minutes":${Math.ceil(article.words / 230)},"title":${JSON.stringify(article.title)},"word_count":${article.words}}`);
    if (r.chance(0.12)) visit.track('video_played', (er) => `{"article_id":${article.id},"position_seconds":0,"video_id":"vid_${article.id}_${er.between(1, 3)}","video_length_seconds":${er.between(45, 420)}}`);
    if (r.chance(0.06)) visit.track('article_shared', (er) => `{"article_id":${article.id},"network":"${er.pick(['whatsapp', 'email', 'facebook', 'copy_link'])}"}`);
  } else if (page.kind === 'search') {
    const query = decodeURIComponent(page.search.slice(3));
    visit.track('site_searched', (er) => `{"query":${JSON.stringify(query)},"results":${er.between(0, 40)}}`);
  } else if ((page.kind === 'home' || page.kind === 'pricing') && r.chance(0.12)) {
    visit.track('cta_clicked', () => `{"cta":"${page.kind === 'home' ? 'start_symptom_check' : 'see_plans'}","location":"${page.kind === 'home' ? 'hero' : 'pricing_table'}"}`);
  }
}

function makePage(kind: PageKind | Landing, r: Random, referrer: string, search: string, campaign: string): PageView {
  let host = WWW;
  let path: string;
  let title: string;
  let name: string;
  let article: Article | null = null;
  switch (kind) {
    case 'home':
      [path, title, name] = ['/', 'Vitalis – Your health, understood', 'Home'];
      break;
    case 'checker_landing':
      [path, title, name] = ['/symptom-checker', 'Free Symptom Checker | Vitalis', 'Symptom Checker'];
      break;
    case 'article':
      article = r.popular(ARTICLES, 2.2);
      [path, title, name] = [`/articles/${article.slug}`, `${article.title} | Vitalis`, 'Article'];
      break;
    case 'condition': {
      const [subject] = r.popular(SUBJECTS, 1.6);
      [path, title, name] = [`/conditions/${slugify(subject)}`, `${capitalise(subject)}: symptoms, causes and treatment | Vitalis`, 'Condition'];
      break;
    }
    case 'pricing':
      [path, title, name] = ['/pricing', 'Plans and pricing | Vitalis', 'Pricing'];
      break;
    case 'about':
      [path, title, name] = ['/about', 'About us | Vitalis', 'About'];
      break;
    case 'search':
      [path, title, name] = ['/search', 'Search results | Vitalis', 'Search'];
      search = `?q=${encodeURIComponent(r.pick(SEARCH_TERMS))}`;
      break;
    default:
      host = APP;
      [path, title, name] = APP_PAGES[kind];
  }
  return { kind, url: host + path + search, path, search, title, name, referrer, campaign, article, json: '', context: '' };
}

const APP_PAGES: Record<'login' | 'signup' | 'welcome' | 'dashboard' | 'checker' | 'results' | 'plans' | 'appointments', [string, string, string]> = {
  login: ['/login', 'Log in | Vitalis', 'Login'],
  signup: ['/signup', 'Create your account | Vitalis', 'Sign Up'],
  welcome: ['/app/welcome', 'Welcome to Vitalis', 'Welcome'],
  dashboard: ['/app/dashboard', 'Your dashboard | Vitalis', 'Dashboard'],
  checker: ['/app/symptom-checker', 'Symptom checker | Vitalis', 'Symptom Checker Flow'],
  results: ['/app/symptom-checker/results', 'Your results | Vitalis', 'Symptom Checker Results'],
  plans: ['/app/plans', 'Choose a plan | Vitalis', 'Plans'],
  appointments: ['/app/appointments', 'Appointments | Vitalis', 'Appointments'],
};

// ---------------------------------------------------------------------------------------------
// Sinks: counting (calibration) and writing a day
// ---------------------------------------------------------------------------------------------

class CountingSink implements EventSink {
  events = 0;

  client(visit: VisitWriter): void {
    visit.eventIndex++;
    this.events++;
  }

  server(visit: VisitWriter): void {
    visit.eventIndex++;
    this.events++;
  }
}

/**
 * One output file of a day. Lines are encoded one by one into a preallocated buffer: appending
 * them to a long string instead builds a rope that Buffer.from must flatten, which cost more
 * than making the events.
 */
class DayFile {
  private chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
  private used = 0;
  /** Filled buffers waiting for gzip. */
  readonly ready: Buffer[] = [];

  constructor(
    readonly path: string,
    readonly partial: string,
    readonly gzip: Gzip,
    readonly closed: Promise<void>,
  ) {}

  /** Appends a line; returns true when a filled buffer is waiting. */
  append(line: string): boolean {
    // Three bytes per UTF-16 unit is the most UTF-8 can take; the newline is one more.
    const room = line.length * 3 + 1;
    if (room > this.chunk.length - this.used) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(Math.max(WRITE_CHUNK_BYTES, room));
    }
    this.used += this.chunk.write(line, this.used);
    this.chunk[this.used++] = 10;
    return this.ready.length > 0;
  }

  /** Moves what is buffered to `ready` (the buffer itself goes to gzip, so a new one is taken). */
  seal(): void {
    if (this.used === 0) return;
    this.ready.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    this.used = 0;
  }
}

/** Malformed lines of a day: their ordinal (0-based line number in the day) and kind. */
interface MalformedPlan {
  ordinals: number[];
  kinds: MalformedKind[];
}

const BAD_TIMESTAMPS = ['Invalid Date', 'NaN', '{{timestamp}}'];

/**
 * Writes the events received on one day. Events received on another day (visits crossing
 * midnight, late deliveries) are skipped without building their bodies.
 */
class DaySink implements EventSink {
  readonly clock = new IsoClock();
  readonly dayStart: number;
  readonly dayEnd: number;
  rows = 0;
  /** Rows not yet reported as progress. */
  pendingRows = 0;
  readonly events: Record<EventType, number> = { track: 0, page: 0, identify: 0 };
  readonly trackEvents: Record<string, number> = {};
  readonly malformed: { total: number } & Record<MalformedKind, number> = { total: 0, not_json: 0, bad_timestamp: 0, missing_type: 0 };
  private nextMalformed = 0;
  /** Files with filled buffers waiting for the async writer. */
  readonly full: DayFile[] = [];

  constructor(
    day: number,
    readonly files: DayFile[],
    private readonly plan: MalformedPlan,
  ) {
    this.dayStart = day * DAY_MS;
    this.dayEnd = this.dayStart + DAY_MS;
  }

  client(visit: VisitWriter, type: EventType, ts: number, label: string, build: BodyBuilder): void {
    const r = new Random(hash3(visit.visitSeed, TAG.event, visit.eventIndex++));
    const u = r.next();
    // Usually milliseconds; retries take seconds to minutes; a queue kept while offline, hours.
    const offline = visit.offline;
    const sent = ts >= offline.from && ts < offline.flushAt ? offline.flushAt + r.between(5, 900) : ts + (u < 0.05 ? r.between(2_000, 240_000) : r.between(20, 1_500));
    const received = sent + r.between(15, 350);
    if (received < this.dayStart || received >= this.dayEnd) return;
    const page = visit.page;
    const device = visit.device;
    if (page.context === '') {
      page.json = `{"path":${JSON.stringify(page.path)},"referrer":${JSON.stringify(page.referrer)},"search":${JSON.stringify(page.search)},"title":${JSON.stringify(page.title)},"url":${JSON.stringify(page.url)}}`;
      page.context = `{${page.campaign === '' ? '' : `"campaign":${page.campaign},`}${device.contextHead},"page":${page.json},"userAgent":${device.userAgentJson}}`;
    }
    const messageId = messageIdOf(visit);
    const userId = visit.userId === null ? 'null' : `"${visit.userId}"`;
    let body: string;
    if (type === 'page') body = `"name":${JSON.stringify(label)},"properties":${page.json}`;
    else if (type === 'track') body = `"event":"${label}","properties":${build ? build(r) : '{}'}`;
    else body = `"traits":${build ? build(r) : '{}'}`;
    this.write(
      type,
      label,
      received,
      `{"type":"${type}","messageId":"${messageId}","anonymousId":"${device.anonymousId}","userId":${userId},"channel":"client","context":${page.context},${body},"timestamp":"${this.clock.format(ts)}","sentAt":"${this.clock.format(sent)}","receivedAt":"${this.clock.format(received)}"}`,
      ts,
    );
  }

  server(visit: VisitWriter, ts: number, event: string, build: BodyBuilder): void {
    const r = new Random(hash3(visit.visitSeed, TAG.event, visit.eventIndex++));
    // analytics-node flushes its queue every few seconds.
    const sent = ts + r.between(5, 10_000);
    const received = sent + r.between(5, 80);
    if (received < this.dayStart || received >= this.dayEnd) return;
    const messageId = messageIdOf(visit);
    this.write(
      'track',
      event,
      received,
      `{"type":"track","messageId":"${messageId}","userId":"${visit.personUserId}","channel":"server","context":${SERVER_CONTEXT},"event":"${event}","properties":${build ? build(r) : '{}'},"timestamp":"${this.clock.format(ts)}","sentAt":"${this.clock.format(sent)}","receivedAt":"${this.clock.format(received)}"}`,
      ts,
    );
  }

  private write(type: EventType, label: string, received: number, line: string, ts: number): void {
    if (this.rows === this.plan.ordinals[this.nextMalformed]) {
      const kind = this.plan.kinds[this.nextMalformed] as MalformedKind;
      this.nextMalformed++;
      line = corrupt(line, kind, type, this.clock.format(ts), this.rows);
      this.malformed.total++;
      this.malformed[kind]++;
    } else {
      this.events[type]++;
      if (type === 'track') this.trackEvents[label] = (this.trackEvents[label] ?? 0) + 1;
    }
    const file = this.files[Math.floor(((received - this.dayStart) / DAY_MS) * this.files.length)] as DayFile;
    if (file.append(line)) this.full.push(file);
    this.rows++;
    this.pendingRows++;
  }
}

/** The message id of the event being written (eventIndex already points past it). */
function messageIdOf(visit: VisitWriter): string {
  const person = visit.person;
  return uuidOf(TAG.message, person.seed, person.birthDay, person.index, visit.visitNumber, visit.eventIndex - 1);
}

/** Damages a line the way it could arrive: cut off, a timestamp that is no date, or no type. */
function corrupt(line: string, kind: MalformedKind, type: EventType, iso: string, ordinal: number): string {
  const h = mix32(ordinal);
  switch (kind) {
    case 'not_json': {
      // Either cut anywhere (an interrupted write) or right after a key, where a serialiser that
      // failed on a value (a BigInt, a cycle) stopped. The second shape is the one a JSON reader
      // without strict line splitting misreads: a newline is whitespace, so it reads on into
      // the next line and loses that (valid) line too.
      const key = line.indexOf('"context":');
      if (h % 5 < 2 && key > 0) return line.slice(0, key + '"context":'.length);
      return line.slice(0, Math.floor(line.length * (0.3 + 0.6 * unit(h))));
    }
    case 'bad_timestamp':
      return line.replace(`"timestamp":"${iso}"`, `"timestamp":"${BAD_TIMESTAMPS[h % BAD_TIMESTAMPS.length]}"`);
    case 'missing_type':
      return `{${line.slice(`{"type":"${type}",`.length)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// A day
// ---------------------------------------------------------------------------------------------

interface WorkerConfig {
  out: string;
  seed: number;
  eventsPerDay: number;
  birthsPerDay: number;
}

interface DayReport extends DayManifest {
  bytes: number;
  absoluteFiles: string[];
}

type WorkerMessage = { kind: 'progress'; rows: number; bytes: number } | { kind: 'done'; report: DayReport };

const birthsOn = (config: WorkerConfig, day: number) => Math.round(config.birthsPerDay * (0.9 + 0.2 * unit(hash3(config.seed, TAG.births, day))));

/** Visits to write on a day, in typed arrays (a day can hold a few hundred thousand). */
class VisitList {
  length = 0;
  birthDay = new Int32Array(1024);
  index = new Uint32Array(1024);
  visit = new Uint16Array(1024);
  start = new Float64Array(1024);

  push(birthDay: number, index: number, visit: number, start: number): void {
    if (this.length === this.start.length) {
      const size = this.length * 2;
      const birthDays = new Int32Array(size);
      const indexes = new Uint32Array(size);
      const visits = new Uint16Array(size);
      const starts = new Float64Array(size);
      birthDays.set(this.birthDay);
      indexes.set(this.index);
      visits.set(this.visit);
      starts.set(this.start);
      [this.birthDay, this.index, this.visit, this.start] = [birthDays, indexes, visits, starts];
    }
    this.birthDay[this.length] = birthDay;
    this.index[this.length] = index;
    this.visit[this.length] = visit;
    this.start[this.length] = start;
    this.length++;
  }

  /** Visit numbers in start order (ties by person, for a stable order). */
  order(): Uint32Array {
    const order = new Uint32Array(this.length);
    for (let i = 0; i < this.length; i++) order[i] = i;
    const { start, birthDay, index } = this;
    order.sort((a, b) => (start[a] as number) - (start[b] as number) || (birthDay[a] as number) - (birthDay[b] as number) || (index[a] as number) - (index[b] as number));
    return order;
  }
}

/** The visits of people alive on `day` that can deliver events on it: started that day, or late enough the day before to reach it. */
function visitsFor(config: WorkerConfig, day: number): VisitList {
  const list = new VisitList();
  const schedule: Schedule = emptySchedule();
  for (let birthDay = day - 1 - LIFETIME_DAYS; birthDay <= day; birthDay++) {
    const births = birthsOn(config, birthDay);
    for (let i = 0; i < births; i++) {
      scheduleOf(config.seed, birthDay, i, schedule);
      let visitDay = birthDay;
      for (let k = 0; k < schedule.visits; k++) {
        if (k > 0) visitDay += gapDays(schedule, k);
        if (visitDay > day || visitDay - birthDay > LIFETIME_DAYS) break;
        if (visitDay < day - 1) continue;
        const seed = visitSeedOf(schedule.personSeed, k);
        if (!visitKept(seed, visitDay)) continue;
        const start = visitStartMs(seed, visitDay);
        if (visitDay === day || start + (offlineOf(seed, start).from === Infinity ? REACH_MS : OFFLINE_REACH_MS) >= day * DAY_MS) list.push(birthDay, i, k, start);
      }
    }
  }
  return list;
}

/** Replays a person's earlier visits (decisions only) and makes visit `visit` into `sink`. */
function replayVisit(seed: number, birthDay: number, index: number, visit: number, sink: EventSink): void {
  const schedule = scheduleOf(seed, birthDay, index, emptySchedule());
  const person = buildPerson(schedule);
  const state = initialState(person);
  let visitDay = birthDay;
  for (let k = 0; k <= visit; k++) {
    if (k > 0) visitDay += gapDays(schedule, k);
    const visitSeed = visitSeedOf(schedule.personSeed, k);
    if (!visitKept(visitSeed, visitDay)) continue;
    const plan = planVisit(person, state, visitSeed, k, visitDay);
    if (k === visit) new VisitRun(person, plan, visitSeed, k, visitStartMs(visitSeed, visitDay), visitDay, sink).run();
  }
}

function malformedPlan(config: WorkerConfig, day: number): MalformedPlan {
  const r = new Random(hash3(config.seed, TAG.malformed, day));
  const expected = (config.eventsPerDay * keepRatio(day)) / MEAN_KEEP;
  const count = Math.min(Math.floor(expected / 10), 3 + r.int(6));
  const ordinals = new Set<number>();
  while (ordinals.size < count) ordinals.add(r.int(Math.max(1, Math.floor(expected * 0.8))));
  const sorted = [...ordinals].sort((a, b) => a - b);
  const kinds: MalformedKind[] = ['not_json', 'bad_timestamp', 'missing_type'];
  return { ordinals: sorted, kinds: sorted.map(() => r.pick(kinds)) };
}

async function writeDay(config: WorkerConfig, day: number, report: (rows: number, bytes: number) => void): Promise<DayReport> {
  const date = dateOf(day);
  const dir = join(config.out, 'drops', date.slice(0, 4), date.slice(5, 7), date.slice(8, 10));
  mkdirSync(dir, { recursive: true });
  const fileCount = Math.min(24, Math.max(1, Math.ceil(config.eventsPerDay / LINES_PER_FILE)));
  let bytes = 0;
  const files: DayFile[] = Array.from({ length: fileCount }, (_, n) => {
    const path = join(dir, `events-${date}-${n}.json.gz`);
    const partial = `${path}.partial`;
    // A deep write buffer lets zlib (on the libuv pool) compress while this thread generates;
    // with the default 16 kB every 1 MB write would wait for compression to catch up.
    const gzip = createGzip(GZIP_OPTIONS);
    const output = createWriteStream(partial);
    gzip.on('data', (chunk: Buffer) => (bytes += chunk.length));
    gzip.pipe(output);
    return new DayFile(path, partial, gzip, once(output, 'close').then(() => undefined));
  });
  const sink = new DaySink(day, files, malformedPlan(config, day));
  const flush = async (file: DayFile) => {
    for (let buffer = file.ready.shift(); buffer; buffer = file.ready.shift()) {
      if (!file.gzip.write(buffer)) await once(file.gzip, 'drain');
    }
  };

  const visits = visitsFor(config, day);
  const order = visits.order();
  let reportedBytes = 0;
  for (let n = 0; n < order.length; n++) {
    const v = order[n] as number;
    replayVisit(config.seed, visits.birthDay[v] as number, visits.index[v] as number, visits.visit[v] as number, sink);
    while (sink.full.length > 0) await flush(sink.full.pop() as DayFile);
    if (sink.pendingRows >= 20_000) {
      report(sink.pendingRows, bytes - reportedBytes);
      reportedBytes = bytes;
      sink.pendingRows = 0;
    }
  }
  for (const file of files) {
    file.seal();
    await flush(file);
    file.gzip.end();
  }
  await Promise.all(files.map((f) => f.closed));
  for (const file of files) renameSync(file.partial, file.path);
  report(sink.pendingRows, bytes - reportedBytes);
  const relativeFiles = files.map((f) => relative(config.out, f.path).split('\\').join('/'));
  return {
    date,
    rows: sink.rows,
    files: relativeFiles,
    absoluteFiles: files.map((f) => f.path),
    bytes,
    events: sink.events,
    trackEvents: Object.fromEntries(Object.entries(sink.trackEvents).sort(([a], [b]) => (a < b ? -1 : 1))),
    malformed: sink.malformed,
  };
}

/** Mean events per person over a lifetime, from simulated people (counting only). */
function calibrate(seed: number): number {
  const sink = new CountingSink();
  const schedule: Schedule = emptySchedule();
  const calibrationSeed = hash2(seed, TAG.calibration);
  for (let i = 0; i < CALIBRATION_PEOPLE; i++) {
    // Birth days spread over whole weeks, so weekday thinning averages out.
    const birthDay = 20_000 + (i % 28);
    scheduleOf(calibrationSeed, birthDay, i, schedule);
    const person = buildPerson(schedule);
    const state = initialState(person);
    let visitDay = birthDay;
    for (let k = 0; k < schedule.visits; k++) {
      if (k > 0) visitDay += gapDays(schedule, k);
      if (visitDay - birthDay > LIFETIME_DAYS) break;
      const visitSeed = visitSeedOf(schedule.personSeed, k);
      if (!visitKept(visitSeed, visitDay)) continue;
      const plan = planVisit(person, state, visitSeed, k, visitDay);
      new VisitRun(person, plan, visitSeed, k, visitStartMs(visitSeed, visitDay), visitDay, sink).run();
    }
  }
  return sink.events / CALIBRATION_PEOPLE;
}

// ---------------------------------------------------------------------------------------------
// Workers and the public entry point
// ---------------------------------------------------------------------------------------------

/**
 * Starts a worker running this module; under tsx, the worker registers tsx itself (workers do not
 * inherit it). The module's URL loses its query: a module loaded with tsx's tsImport (as
 * `tributary generate` loads generators) carries a `?tsx-namespace=…` that only that loader knows.
 */
function startWorker(config: WorkerConfig): Worker {
  const self = new URL(import.meta.url);
  self.search = '';
  if (!self.pathname.endsWith('.ts')) return new Worker(self, { workerData: config });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(self.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: config });
}

export async function generateSegment(options: GenerateSegmentOptions): Promise<GenerateSegmentResult> {
  const first = /^\d{4}-\d{2}-\d{2}$/.test(options.start) ? dayNumber(options.start) : Number.NaN;
  if (!Number.isFinite(first)) throw new Error(`start must be YYYY-MM-DD, got ${options.start}`);
  if (!Number.isInteger(options.days) || options.days < 1) throw new Error(`days must be a positive integer, got ${options.days}`);
  if (!(options.eventsPerDay >= 1)) throw new Error(`eventsPerDay must be at least 1, got ${options.eventsPerDay}`);
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const seed = Math.trunc(options.seed) >>> 0;
  const config: WorkerConfig = { out, seed, eventsPerDay: options.eventsPerDay, birthsPerDay: options.eventsPerDay / calibrate(seed) };
  // Day-to-day noise adds up to 10 % to the births of a day.
  if (config.birthsPerDay * 1.1 >= MAX_BIRTHS_PER_DAY) throw new Error(`eventsPerDay ${options.eventsPerDay} is beyond what unique person numbers allow (about ${Math.floor((options.eventsPerDay * MAX_BIRTHS_PER_DAY) / (config.birthsPerDay * 1.1)).toLocaleString('en')})`);

  const expectedRows = options.days * options.eventsPerDay;
  let rows = 0;
  let bytes = 0;
  const reports: DayReport[] = [];
  const pending = Array.from({ length: options.days }, (_, i) => first + i);
  const workerCount = Math.min(availableParallelism(), options.days);

  await new Promise<void>((done, fail) => {
    let running = workerCount;
    let failed = false;
    const workers: Worker[] = [];
    const next = (worker: Worker) => {
      const day = pending.shift();
      if (day === undefined) {
        void worker.terminate();
        if (--running === 0) done();
      } else worker.postMessage(day);
    };
    for (let w = 0; w < workerCount; w++) {
      const worker = startWorker(config);
      workers.push(worker);
      worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'progress') {
          rows += message.rows;
          bytes += message.bytes;
          options.onProgress?.({ rows, bytes, fraction: Math.min(0.99, rows / expectedRows) });
        } else {
          reports.push(message.report);
          next(worker);
        }
      });
      worker.on('error', (error) => {
        if (failed) return;
        failed = true;
        for (const other of workers) void other.terminate();
        fail(error);
      });
      next(worker);
    }
  });

  reports.sort((a, b) => (a.date < b.date ? -1 : 1));
  // Totals from the day reports (exact), not from the progress messages (which only pace the bar).
  rows = reports.reduce((sum, r) => sum + r.rows, 0);
  bytes = reports.reduce((sum, r) => sum + r.bytes, 0);
  const malformed = reports.reduce((sum, r) => sum + r.malformed.total, 0);
  const manifest: SegmentManifest = {
    generator: 'segment',
    seed,
    start: options.start,
    days: options.days,
    eventsPerDay: options.eventsPerDay,
    rows,
    malformed,
    dayManifests: reports.map(({ bytes: _bytes, absoluteFiles: _files, ...day }) => day),
  };
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  options.onProgress?.({ rows, bytes, fraction: 1 });
  return { files: reports.flatMap((r) => r.absoluteFiles), rows, bytes, malformed };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const config = workerData as WorkerConfig;
  port.on('message', (day: number) => {
    // A failure is left unhandled on purpose: it ends the worker, and the parent sees 'error'.
    void writeDay(config, day, (rows, bytes) => port.postMessage({ kind: 'progress', rows, bytes } satisfies WorkerMessage)).then((report) =>
      port.postMessage({ kind: 'done', report } satisfies WorkerMessage),
    );
  });
}

/** The full-size month: 30 days of one million events a day on average (about 30 M events). */
const FULL_SIZE = { days: 30, start: '2025-03-01', eventsPerDay: 1_000_000 } as const;

/**
 * `tributary generate segment [--size EVENTS_PER_DAY] [--seed N] [--set days=N] [--set start=YYYY-MM-DD] [--out DIR]`:
 * daily drops under `DIR/drops/YYYY/MM/DD/`, read by the source with
 * `--source segment_events='DIR/drops/{yyyy}/{mm}/{dd}/*.json.gz'`.
 * Typed with `satisfies` rather than wrapped in defineGenerator: every worker thread imports this
 * module again, and a runtime import of 'tributary' would load the whole platform (and DuckDB) in
 * each of them, through a resolver hook that worker threads do not inherit.
 */
export default {
  description: 'Segment drops of a month (30 days, about 30 M events at full size), daily gzipped JSON lines',
  unit: 'events per day',
  defaultOut: 'data/generated',
  defaultSize: FULL_SIZE.eventsPerDay,
  options: { days: `how many days of drops (default: ${FULL_SIZE.days})`, start: `the first day, YYYY-MM-DD (default: ${FULL_SIZE.start})` },
  async run(context) {
    const result = await generateSegment({
      out: resolve(context.out),
      seed: context.seed,
      days: Number(context.options.days ?? FULL_SIZE.days),
      start: context.options.start ?? FULL_SIZE.start,
      eventsPerDay: context.size ?? FULL_SIZE.eventsPerDay,
      onProgress: (p) => context.progress(p),
    });
    context.log(`${result.malformed} malformed lines written on purpose; see manifest.json for each day's counts`);
    return { files: result.files, rows: result.rows, bytes: result.bytes };
  },
} satisfies GeneratorDefinition;

// Command line: npx tsx generators/segment.ts --out DIR [--seed N] [--days N] [--start YYYY-MM-DD] [--events-per-day N]
if (isMainThread && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      seed: { type: 'string', default: '42' },
      days: { type: 'string', default: String(FULL_SIZE.days) },
      start: { type: 'string', default: FULL_SIZE.start },
      'events-per-day': { type: 'string', default: String(FULL_SIZE.eventsPerDay) },
    },
  });
  if (!values.out) throw new Error('--out is required');
  const started = performance.now();
  let lastPrint = 0;
  const result = await generateSegment({
    out: values.out,
    seed: Number(values.seed),
    days: Number(values.days),
    start: values.start,
    eventsPerDay: Number(values['events-per-day']),
    onProgress: (p) => {
      const now = performance.now();
      if (now - lastPrint < 2_000 && p.fraction < 1) return;
      lastPrint = now;
      process.stderr.write(`  ${(p.fraction * 100).toFixed(0)} %  ${p.rows.toLocaleString('en')} lines  ${(p.bytes / 1e6).toFixed(1)} MB\n`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${result.rows.toLocaleString('en')} lines (${result.malformed} malformed) in ${result.files.length} files, ${(result.bytes / 1e6).toFixed(1)} MB gzipped, ${seconds.toFixed(1)} s, ${Math.round(result.rows / seconds).toLocaleString('en')} events/s`,
  );
}
