/** Errors from another copy of errors.ts (the bundle's lazily loaded files carry their own). */
import { describe, expect, it } from 'vitest';
import { IptablesError, isIptablesError } from './errors.js';

describe('isIptablesError', () => {
  it('recognises an error of another copy of the class by its brand', () => {
    const fromOtherCopy = Object.assign(new Error('from command-line.js'), {
      [Symbol.for('istio-iptables-ts.IptablesError')]: true,
      code: 'COMMAND_FAILED',
    });
    expect(isIptablesError(fromOtherCopy)).toBe(true);
    expect(isIptablesError(new IptablesError('VERIFY_FAILED', 'ours'))).toBe(true);
  });

  it('does not take other errors or values for ours', () => {
    expect(isIptablesError(new Error('x'))).toBe(false);
    expect(isIptablesError(Object.assign(new Error('x'), { code: 'COMMAND_FAILED' }))).toBe(false);
    expect(isIptablesError(undefined)).toBe(false);
    expect(isIptablesError('COMMAND_FAILED')).toBe(false);
  });
});
