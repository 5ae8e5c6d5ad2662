/** A plain REDIRECT configuration, IPv4 only, for unit tests to vary with spreads. */
import type { CaptureConfig } from '../../src/config/capture-config.js';
import { FAMILY } from '../../src/model/family.js';

export const REDIRECT_IPV4: CaptureConfig = {
  families: ['ipv4'],
  proxy: { uids: ['1337'], gids: ['1337'] },
  inbound: {
    ports: { kind: 'all', except: [] },
    capturePort: 15006,
    tunnelPort: { first: 15008, last: 15008 },
    interception: { mode: 'redirect' },
  },
  outbound: {
    proxyPort: 15001,
    cidrs: { include: 'all', exclude: [] },
    ports: { include: [], exclude: [] },
    ownerGroups: { kind: 'all', except: [] },
  },
  dns: { mode: 'off' },
  interfaces: { exclude: [], virtual: [] },
  dropInvalid: false,
  hostIPv4LoopbackCidr: FAMILY.ipv4.loopback,
  strict: false,
  compactRules: false,
};
