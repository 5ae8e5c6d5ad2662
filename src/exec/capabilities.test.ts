import { describe, expect, test } from 'vitest';
import { NotPrivilegedError } from '../errors.js';
import { describePrivileges, neededCapabilities, privilegesFrom } from './capabilities.js';

const status = (capEff: string, uid = 1337) =>
  `Name:\tnode\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;

describe('privileges from CapEff, not from the uid', () => {
  test('uid 1337 with NET_ADMIN and NET_RAW (bits 12, 13)', () => {
    const privileges = privilegesFrom(status('0000000000003000'));
    expect(privileges.uid).toBe(1337);
    expect([...privileges.held].sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(describePrivileges(privileges, neededCapabilities(false))).toBe(
      'uid 1337, holding CAP_NET_ADMIN, CAP_NET_RAW of the capabilities needed',
    );
    expect(describePrivileges(privileges, neededCapabilities(true))).toContain('missing CAP_SYS_ADMIN');
  });

  test('root without NET_ADMIN is not privileged, and the message says what to add', () => {
    const privileges = privilegesFrom(status('00000000a80425fb', 0));
    expect(privileges.held.has('NET_ADMIN')).toBe(false);
    const error = new NotPrivilegedError('iptables: Permission denied', {
      description: describePrivileges(privileges, neededCapabilities(false)),
      missing: ['CAP_NET_ADMIN'],
    });
    expect(error.message).toContain('uid 0');
    expect(error.message).toContain('needs CAP_NET_ADMIN');
    expect(error.message).toContain('securityContext');
  });
});
