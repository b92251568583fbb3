/**
 * An independent reference for the Sparkify star schema: it reads the raw JSON files with node:fs
 * and JSON.parse (no DuckDB, no SQL) and applies the same rules as the models, written a second
 * time, so a test can compare every table the pipeline builds against it.
 *
 * Conventions of the returned rows (keyed like the SQL columns):
 * - timestamps (`start_time`) are ISO-8601 UTC strings with milliseconds, 'YYYY-MM-DDTHH:MM:SS.sssZ';
 * - `user_id` is a number (the log's string id read as an integer, as the platform does);
 * - a missing value is `null` (empty `artist_location` and empty `userId` included).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, sep } from 'node:path';

export type Value = string | number | null;
export type Row = Record<string, Value>;

export interface SparkifyReference {
  songplays: Row[];
  users: Row[];
  songs: Row[];
  artists: Row[];
  time: Row[];
  /** Song plays (`page = 'NextSong'`) per song and artist as the log names them: song, artist, plays. */
  plays_by_song_name: Row[];
  staging_events_count: number;
  staging_songs_count: number;
}

/** A play matches a catalogue song when their durations differ by at most this (seconds). */
const DURATION_TOLERANCE_SECONDS = 0.001;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})-events\.json$/;

interface SongRecord {
  songId: string;
  title: string;
  artistId: string;
  artistName: string;
  artistLocation: string | null;
  latitude: number | null;
  longitude: number | null;
  duration: number;
  year: number;
}

interface LogEvent {
  artist: string | null;
  firstName: string | null;
  gender: string | null;
  itemInSession: number;
  lastName: string | null;
  length: number | null;
  level: string | null;
  location: string | null;
  page: string | null;
  sessionId: number;
  song: string | null;
  /** Epoch milliseconds, UTC. */
  ts: number;
  userAgent: string | null;
  userId: number | null;
}

type JsonObject = Record<string, unknown>;

function parseObject(text: string, origin: string): JsonObject {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${origin}: expected a JSON object`);
  }
  return parsed as JsonObject;
}

function optionalText(record: JsonObject, key: string): string | null {
  const value = record[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new Error(`${key}: expected a string, got ${typeof value}`);
  return value;
}

function requiredText(record: JsonObject, key: string): string {
  const value = optionalText(record, key);
  if (value === null) throw new Error(`${key}: missing`);
  return value;
}

function optionalNumber(record: JsonObject, key: string): number | null {
  const value = record[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number') throw new Error(`${key}: expected a number, got ${typeof value}`);
  return value;
}

function requiredNumber(record: JsonObject, key: string): number {
  const value = optionalNumber(record, key);
  if (value === null) throw new Error(`${key}: missing`);
  return value;
}

/** The .json files exactly `depth` folders below `root` (depth 0: directly in it), sorted. */
function jsonFilesAtDepth(root: string, depth: number): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((relative) => relative.endsWith('.json') && relative.split(sep).length === depth + 1)
    .sort()
    .map((relative) => join(root, relative));
}

/** `song_data/A/*\/*\/*.json`, the glob of the original job. */
function readSongs(dataDir: string): SongRecord[] {
  return jsonFilesAtDepth(join(dataDir, 'song_data', 'A'), 2).map((file) => {
    const record = parseObject(readFileSync(file, 'utf8'), file);
    const location = optionalText(record, 'artist_location');
    return {
      songId: requiredText(record, 'song_id'),
      title: requiredText(record, 'title'),
      artistId: requiredText(record, 'artist_id'),
      artistName: requiredText(record, 'artist_name'),
      artistLocation: location === '' ? null : location,
      latitude: optionalNumber(record, 'artist_latitude'),
      longitude: optionalNumber(record, 'artist_longitude'),
      duration: requiredNumber(record, 'duration'),
      year: requiredNumber(record, 'year'),
    };
  });
}

function logFiles(dataDir: string): string[] {
  return jsonFilesAtDepth(join(dataDir, 'log_data'), 2);
}

/** The days of the log, 'YYYY-MM-DD', from its file names (`log_data/2018/11/2018-11-01-events.json` …). */
export function sparkifyDays(dataDir: string): string[] {
  return logFiles(dataDir).map((file) => {
    const day = DAY_FILE.exec(basename(file))?.[1];
    if (day === undefined) throw new Error(`${file}: not a daily log file`);
    return day;
  });
}

function readEvents(dataDir: string): LogEvent[] {
  return logFiles(dataDir).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const record = parseObject(line, file);
        const userId = requiredText(record, 'userId');
        return {
          artist: optionalText(record, 'artist'),
          firstName: optionalText(record, 'firstName'),
          gender: optionalText(record, 'gender'),
          itemInSession: requiredNumber(record, 'itemInSession'),
          lastName: optionalText(record, 'lastName'),
          length: optionalNumber(record, 'length'),
          level: optionalText(record, 'level'),
          location: optionalText(record, 'location'),
          page: optionalText(record, 'page'),
          sessionId: requiredNumber(record, 'sessionId'),
          song: optionalText(record, 'song'),
          ts: requiredNumber(record, 'ts'),
          userAgent: optionalText(record, 'userAgent'),
          // Logged-out rows carry an empty string; ids are integers in the star schema.
          userId: userId === '' ? null : Number(userId),
        };
      }),
  );
}

/** Orders by each key in turn; `a < b` on strings is code-unit order, like the SQL's binary order here. */
function compareKeys(left: readonly (string | number)[], right: readonly (string | number)[]): number {
  for (let index = 0; index < left.length; index += 1) {
    const a = left[index];
    const b = right[index];
    if (a === undefined || b === undefined || a === b) continue;
    return a < b ? -1 : 1;
  }
  return 0;
}

/** One element per group: the one whose sort key is smallest. */
function firstPerGroup<T>(items: readonly T[], groupOf: (item: T) => string | number, sortKey: (item: T) => (string | number)[]): T[] {
  const chosen = new Map<string | number, T>();
  for (const item of items) {
    const group = groupOf(item);
    const current = chosen.get(group);
    if (current === undefined || compareKeys(sortKey(item), sortKey(current)) < 0) chosen.set(group, item);
  }
  return [...chosen.values()];
}

function isoTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** ISO-8601 week number: the week (Monday start) that holds the Thursday of the date's week. */
function isoWeek(epochMs: number): number {
  const date = new Date(epochMs);
  const mondayBasedDay = (date.getUTCDay() + 6) % 7;
  const thursday = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - mondayBasedDay + 3);
  const firstOfThatYear = Date.UTC(new Date(thursday).getUTCFullYear(), 0, 1);
  return 1 + Math.floor((thursday - firstOfThatYear) / (7 * 86_400_000));
}

function songplayId(event: LogEvent, userId: number): string {
  return createHash('md5').update(`${event.sessionId}|${event.itemInSession}|${event.ts}|${userId}`).digest('hex');
}

/** The catalogue song a play is of: same title, artist name and duration (within tolerance). */
function matchSong(event: LogEvent, songsByTitleAndArtist: Map<string, SongRecord[]>): SongRecord | null {
  const { song, artist, length } = event;
  if (song === null || artist === null || length === null) return null;
  const candidates = (songsByTitleAndArtist.get(`${song}\u0000${artist}`) ?? []).filter(
    (candidate) => Math.abs(candidate.duration - length) <= DURATION_TOLERANCE_SECONDS,
  );
  const [best] = candidates.sort((a, b) =>
    compareKeys([Math.abs(a.duration - length), a.songId], [Math.abs(b.duration - length), b.songId]),
  );
  return best ?? null;
}

export function sparkifyReference(dataDir: string): SparkifyReference {
  const songRecords = readSongs(dataDir);
  const events = readEvents(dataDir);

  const songsByTitleAndArtist = new Map<string, SongRecord[]>();
  for (const record of songRecords) {
    const key = `${record.title}\u0000${record.artistName}`;
    songsByTitleAndArtist.set(key, [...(songsByTitleAndArtist.get(key) ?? []), record]);
  }

  const songplays: Row[] = [];
  const playTimes = new Set<number>();
  for (const event of events) {
    if (event.page !== 'NextSong' || event.userId === null) continue;
    const song = matchSong(event, songsByTitleAndArtist);
    const startTime = new Date(event.ts);
    playTimes.add(event.ts);
    songplays.push({
      songplay_id: songplayId(event, event.userId),
      start_time: isoTimestamp(event.ts),
      user_id: event.userId,
      level: event.level,
      song_id: song?.songId ?? null,
      artist_id: song?.artistId ?? null,
      session_id: event.sessionId,
      location: event.location,
      user_agent: event.userAgent,
      year: startTime.getUTCFullYear(),
      month: startTime.getUTCMonth() + 1,
    });
  }

  const latestEventPerUser = firstPerGroup(
    events.filter((event): event is LogEvent & { userId: number } => event.userId !== null),
    (event) => event.userId,
    // Greatest first: negate the numbers so the smallest key is the latest event.
    (event) => [-event.ts, -event.sessionId, -event.itemInSession],
  );
  const users: Row[] = latestEventPerUser.map((event) => ({
    user_id: event.userId,
    first_name: event.firstName,
    last_name: event.lastName,
    gender: event.gender,
    level: event.level,
  }));

  const songs: Row[] = firstPerGroup(
    songRecords,
    (record) => record.songId,
    (record) => [record.title, record.artistId, record.year, record.duration],
  ).map((record) => ({
    song_id: record.songId,
    title: record.title,
    artist_id: record.artistId,
    year: record.year,
    duration: record.duration,
  }));

  const artists: Row[] = firstPerGroup(
    songRecords,
    (record) => record.artistId,
    // Most informative record first: both coordinates, then a location, then the smallest song_id.
    (record) => [record.latitude !== null && record.longitude !== null ? 0 : 1, record.artistLocation !== null ? 0 : 1, record.songId],
  ).map((record) => ({
    artist_id: record.artistId,
    name: record.artistName,
    location: record.artistLocation,
    latitude: record.latitude,
    longitude: record.longitude,
  }));

  const time: Row[] = [...playTimes].map((epochMs) => {
    const date = new Date(epochMs);
    return {
      start_time: isoTimestamp(epochMs),
      hour: date.getUTCHours(),
      day: date.getUTCDate(),
      week: isoWeek(epochMs),
      month: date.getUTCMonth() + 1,
      year: date.getUTCFullYear(),
      // ISO day of the week: 1 = Monday … 7 = Sunday.
      weekday: ((date.getUTCDay() + 6) % 7) + 1,
    };
  });

  const playsByName = new Map<string, Row>();
  for (const event of events) {
    if (event.page !== 'NextSong') continue;
    const key = `${event.song}\u0000${event.artist}`;
    const row = playsByName.get(key) ?? { song: event.song, artist: event.artist, plays: 0 };
    row.plays = Number(row.plays) + 1;
    playsByName.set(key, row);
  }

  return {
    songplays,
    users,
    songs,
    artists,
    time,
    plays_by_song_name: [...playsByName.values()],
    staging_events_count: events.length,
    staging_songs_count: songRecords.length,
  };
}
