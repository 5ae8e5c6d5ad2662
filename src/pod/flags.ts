/**
 * The command lines this layer writes (the CNI's equivalent command line) → flags by long name,
 * as the flag parser gives them, so a caller outside the CLI (the CNI plugin) can resolve them
 * with `resolveSettings` without the CLI's parser. Only the shapes written here are read: a
 * flag and its value as two items (`-p`, `15001`), or a bare boolean (`--cni-mode`).
 */
import { FLAG_SPECS, type FlagSpec } from '../config/flag-spec.js';

const byName = new Map<string, FlagSpec>();
for (const spec of FLAG_SPECS) {
  byName.set(`--${spec.long}`, spec);
  if (spec.short) byName.set(`-${spec.short}`, spec);
}

/** `['-p', '15001', '--cni-mode']` → `{ 'envoy-port': '15001', 'cni-mode': true }`; throws on anything else (a bug here). */
export function flagsOf(argv: readonly string[]): Record<string, string | boolean> {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const spec = byName.get(argv[i] ?? '');
    if (!spec) throw new Error(`not a flag: ${argv[i]}`);
    if (spec.kind === 'boolean') flags[spec.long] = true;
    else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`no value for ${spec.long}`);
      flags[spec.long] = value;
    }
  }
  return flags;
}
