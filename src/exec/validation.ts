/**
 * `--run-validation`: does a connection really get captured? Runs the probe (`cli/probe.ts`)
 * as a child process, inside the target namespace when there is one.
 */
import { fileURLToPath } from 'node:url';
import { ValidationFailedError } from '../errors.js';
import type { CommandRunner } from './command.js';

export interface ProbeSettings {
  /** The pod address decides the family: IPv6 probes over ::1 → ::6, IPv4 over 127.0.0.1 → 127.0.0.6. */
  readonly ipv6: boolean;
  readonly proxyPort: number;
  readonly capturePort: number;
  readonly probePort: number;
  readonly timeoutMs: number;
}

/** How long past --probe-timeout the probe process may take to start and report. */
const PROBE_GRACE_MS = 10_000;

/** The probe script, beside the CLI: worked out when a validation runs, not at every start. */
export const probeScript = (): string => fileURLToPath(new URL('../cli/probe.js', import.meta.url));

export async function runValidation(
  runner: CommandRunner,
  settings: ProbeSettings,
  log: (line: string) => void,
): Promise<void> {
  const [listen, target] = settings.ipv6 ? ['::1', '::6'] : ['127.0.0.1', '127.0.0.6'];
  const result = await runner.run({
    file: process.execPath,
    args: [
      probeScript(),
      listen,
      target,
      `${settings.proxyPort},${settings.capturePort}`,
      String(settings.probePort),
      String(settings.timeoutMs),
    ],
    // The probe gives up by itself after --probe-timeout; this only catches a probe that hangs.
    timeoutMs: Math.min(Math.ceil(settings.timeoutMs) + PROBE_GRACE_MS, 2 ** 31 - 1),
  });
  if (result.exitCode !== 0) throw new ValidationFailedError(result.stderr.trim() || `probe exited ${result.exitCode}`);
  log(result.stderr.trim());
}
