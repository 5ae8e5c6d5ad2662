import { describe, expect, it } from 'vitest';
import { parseGoUint } from './go-uint.js';

describe("parseGoUint (Go's strconv.ParseUint with base 0, as pflag's uint16)", () => {
  it.each([
    ['15002', 15002],
    ['0', 0],
    ['0x3a9a', 15002],
    ['0X3A9A', 15002],
    ['0o35232', 15002],
    ['035232', 15002],
    ['0b11101010011010', 15002],
    ['15_002', 15002],
    ['0x_3a9a', 15002],
    ['0_7', 7],
    ['65535', 65535],
  ])('%j → %i', (text, value) => {
    expect(parseGoUint(text, 65535)).toBe(value);
  });

  it.each([
    '',
    '65536',
    '0x10000',
    '-1',
    '+1',
    '08',
    '0x',
    '0b2',
    '1__0',
    '_1',
    '1_',
    '0x_',
    '1.0',
    ' 1',
    'abc',
    '1e3',
  ])('rejects %j', (text) => {
    expect(parseGoUint(text, 65535)).toBeUndefined();
  });
});
