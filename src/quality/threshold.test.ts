import { describe, expect, it } from 'vitest';
import { topReasons } from './threshold.js';

describe('topReasons', () => {
  it('shows a group of alike reasons as they are, with its count, most frequent first', () => {
    const reasons = [...Array(3).fill('event_type: expected one of view, cart, got refund'), 'id: expected BIGINT, got x'];
    expect(topReasons(reasons)).toBe('3 × event_type: expected one of view, cart, got refund; 1 × id: expected BIGINT, got x');
  });

  it('marks the value of a group whose rows got different values as an example', () => {
    const reasons = ['expected a JSON object, got an array', 'expected a JSON object, got null', 'expected a JSON object, got a number', 'not valid JSON: Unexpected end'];
    expect(topReasons(reasons)).toBe('3 × expected a JSON object, got … (e.g. an array); 1 × not valid JSON: Unexpected end');
  });

  it('groups reasons that differ in their numbers only, and keeps the one value they got', () => {
    expect(topReasons(['event 3 of a request: expected a JSON object, got an array', 'event 9 of a request: expected a JSON object, got an array'])).toBe(
      '2 × event 3 of a request: expected a JSON object, got an array',
    );
  });
});
