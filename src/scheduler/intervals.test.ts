import { describe, expect, it } from 'vitest';
import { backfillIntervals, dsOf, dueIntervals, manualInterval, nextDueAt, resolveSchedule, Timetable } from './intervals.js';

const iso = (date: Date | undefined): string | undefined => date?.toISOString();
const starts = (intervals: Array<{ start: Date }>): string[] => intervals.map((interval) => interval.start.toISOString());

describe('Timetable', () => {
  it('expands presets through croner', () => {
    const weekly = new Timetable('@weekly', 'UTC');
    // 2024-01-03 is a Wednesday; the next Sunday midnight is 2024-01-07.
    expect(iso(weekly.tickAfter(new Date('2024-01-03T12:00:00Z')))).toBe('2024-01-07T00:00:00.000Z');
    expect(iso(new Timetable('@monthly', 'UTC').tickAfter(new Date('2024-01-31T00:00:00Z')))).toBe('2024-02-01T00:00:00.000Z');
    expect(iso(new Timetable('@yearly', 'UTC').tickAfter(new Date('2024-06-01T00:00:00Z')))).toBe('2025-01-01T00:00:00.000Z');
    expect(iso(new Timetable('@hourly', 'UTC').tickAfter(new Date('2024-01-01T10:00:00Z')))).toBe('2024-01-01T11:00:00.000Z');
  });

  it('ticks in the job time zone, across a daylight-saving change', () => {
    const paris = new Timetable('0 2 * * *', 'Europe/Paris');
    // Winter: 02:00 Paris = 01:00 UTC; after the last Sunday of March: 02:00 CEST = 00:00 UTC.
    expect(iso(paris.tickAfter(new Date('2024-03-29T12:00:00Z')))).toBe('2024-03-30T01:00:00.000Z');
    expect(iso(paris.tickAfter(new Date('2024-04-01T12:00:00Z')))).toBe('2024-04-02T00:00:00.000Z');
  });

  it('gives Airflow data intervals: [tick, next tick), ds in the zone', () => {
    const daily = new Timetable('@daily', 'Europe/Paris');
    const interval = daily.intervalContaining(new Date('2024-01-05T10:00:00Z'))!;
    expect(iso(interval.start)).toBe('2024-01-04T23:00:00.000Z');
    expect(iso(interval.end)).toBe('2024-01-05T23:00:00.000Z');
    expect(dsOf(interval, 'Europe/Paris')).toBe('2024-01-05');
    const latest = daily.latestCompleteInterval(new Date('2024-01-05T23:00:00Z'))!;
    expect(dsOf(latest, 'Europe/Paris')).toBe('2024-01-05');
  });
});

describe('resolveSchedule', () => {
  it('reads strings, cron objects with their own zone, table triggers and no schedule', () => {
    expect(resolveSchedule('@daily', 'UTC')).toEqual({ kind: 'cron', cron: '0 0 * * *', timezone: 'UTC', label: '@daily' });
    expect(resolveSchedule({ cron: '30 6 * * 1-5', timezone: 'America/New_York' }, 'UTC')).toMatchObject({
      kind: 'cron',
      timezone: 'America/New_York',
    });
    expect(resolveSchedule({ onTablesChanged: ['orders'] }, 'UTC')).toEqual({ kind: 'tables', tables: ['orders'] });
    expect(resolveSchedule(undefined, 'UTC')).toEqual({ kind: 'manual' });
  });
});

describe('dueIntervals', () => {
  const daily = new Timetable('@daily', 'UTC');
  const now = new Date('2024-01-10T05:00:00Z');

  it('with catchup, creates exactly the missed intervals after the last one run', () => {
    const due = dueIntervals(daily, { firstStart: new Date('2024-01-01T00:00:00Z'), lastStart: new Date('2024-01-05T00:00:00Z') }, { now, catchup: true, limit: 100 });
    expect(starts(due.intervals)).toEqual([
      '2024-01-06T00:00:00.000Z',
      '2024-01-07T00:00:00.000Z',
      '2024-01-08T00:00:00.000Z',
      '2024-01-09T00:00:00.000Z',
    ]);
    expect(due.more).toBe(false);
  });

  it('from the job start when nothing ran yet, in batches', () => {
    const due = dueIntervals(daily, { firstStart: new Date('2024-01-01T00:00:00Z') }, { now, catchup: true, limit: 3 });
    expect(starts(due.intervals)).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z']);
    expect(due.more).toBe(true);
  });

  it('without catchup, only the latest complete interval', () => {
    const due = dueIntervals(daily, { firstStart: new Date('2024-01-01T00:00:00Z'), lastStart: new Date('2024-01-02T00:00:00Z') }, { now, catchup: false, limit: 100 });
    expect(starts(due.intervals)).toEqual(['2024-01-09T00:00:00.000Z']);
    const again = dueIntervals(daily, { firstStart: new Date('2024-01-01T00:00:00Z'), lastStart: new Date('2024-01-09T00:00:00Z') }, { now, catchup: false, limit: 100 });
    expect(again.intervals).toEqual([]);
  });

  it('respects start (default now: the first interval starts at the next tick) and end', () => {
    const fresh = { firstStart: new Date('2024-01-10T05:00:00Z') };
    expect(dueIntervals(daily, fresh, { now, catchup: true, limit: 100 }).intervals).toEqual([]);
    expect(iso(nextDueAt(daily, fresh))).toBe('2024-01-12T00:00:00.000Z');
    const ended = { firstStart: new Date('2024-01-01T00:00:00Z'), endBound: new Date('2024-01-03T00:00:00Z') };
    expect(starts(dueIntervals(daily, ended, { now, catchup: true, limit: 100 }).intervals)).toHaveLength(3);
    expect(starts(dueIntervals(daily, ended, { now, catchup: false, limit: 100 }).intervals)).toEqual(['2024-01-03T00:00:00.000Z']);
    expect(nextDueAt(daily, { ...ended, lastStart: new Date('2024-01-03T00:00:00Z') })).toBeUndefined();
  });
});

describe('manual triggers and backfills', () => {
  const now = new Date('2024-01-10T05:00:00Z');

  it('a manual trigger for a date runs the interval holding it; without a date the latest complete one', () => {
    const daily = resolveSchedule('@daily', 'Europe/Paris');
    expect(dsOf(manualInterval(daily, 'Europe/Paris', '2024-01-05', now), 'Europe/Paris')).toBe('2024-01-05');
    expect(dsOf(manualInterval(daily, 'Europe/Paris', undefined, now), 'Europe/Paris')).toBe('2024-01-09');
    const adHoc = manualInterval({ kind: 'manual' }, 'UTC', undefined, now);
    expect(adHoc).toEqual({ start: now, end: now });
    expect(() => manualInterval(daily, 'UTC', '2024-02-31', now)).toThrow(/not a date/);
  });

  it('a backfill gives one interval per tick in [from, to], a bare end date covering its day', () => {
    const hourly = new Timetable('@hourly', 'UTC');
    expect(backfillIntervals(hourly, { from: '2024-01-02', to: '2024-01-02' }, { now, limit: 100 })).toHaveLength(24);
    const daily = new Timetable('@daily', 'UTC');
    expect(starts(backfillIntervals(daily, { from: '2024-01-01', to: '2024-01-03' }, { now, limit: 100 }))).toEqual([
      '2024-01-01T00:00:00.000Z',
      '2024-01-02T00:00:00.000Z',
      '2024-01-03T00:00:00.000Z',
    ]);
    // Intervals not complete yet are left out.
    expect(backfillIntervals(daily, { from: '2024-01-08', to: '2024-01-20' }, { now, limit: 100 })).toHaveLength(2);
    expect(() => backfillIntervals(daily, { from: '2024-01-05', to: '2024-01-01' }, { now, limit: 100 })).toThrow('backfill range is empty: it starts at 2024-01-05, after its end 2024-01-01; give the earlier day first');
    expect(() => backfillIntervals(hourly, { from: '2023-01-01', to: '2024-01-01' }, { now, limit: 100 })).toThrow('backfill 2023-01-01..2024-01-01 spans more than 100 intervals; split it into backfills of at most 100 intervals each');
  });
});
