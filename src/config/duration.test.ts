import { describe, expect, it } from 'vitest';
import { parseGoDuration } from './duration.js';

describe('parseGoDuration (Go time.ParseDuration syntax, non-negative)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['5s', 5e9],
    ['1500ms', 1.5e9],
    ['1m30s', 90e9],
    ['1h', 3600e9],
    ['1.5h', 5400e9],
    ['1.5s', 1.5e9],
    ['.5s', 0.5e9],
    ['5.s', 5e9],
    ['100ns', 100],
    ['10us', 10_000],
    ['10µs', 10_000],
    ['1s1s', 2e9],
    ['1h2m3s4ms5us6ns', 3723004005006],
    // Go's largest Duration, 2^63-1 ns, is 2562047h47m16.854775807s.
    ['2562047h', 2562047 * 3600e9],
  ])('%s is %d ns', (text, nanoseconds) => {
    expect(parseGoDuration(text)).toBe(nanoseconds);
  });

  it.each([
    '',
    '5',
    '5 s',
    ' 5s',
    '5s ',
    'abc',
    's',
    '.s',
    '-1s',
    '+5s',
    '5S',
    '5sec',
    '5x',
    '1e3s',
    '1.2.3s',
    '1..5s',
    '0x10s',
    // beyond Go's int64 nanoseconds: "invalid duration" upstream
    '2562048h',
    '9999999999999999999999h',
  ])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});
