/**
 * `--run-validation`: does a connection really get captured? Runs the probe script as a child
 * process, inside the target namespace when there is one. The script's path is the caller's
 * to give (the CLI ships it): this layer names no file of a layer above it.
 */
import { ValidationFailedError } from '../errors.js';
import type { IpFamily } from '../model/family.js';
import type { CommandRunner } from './command.js';

export interface ProbeSettings {
  /** The probe script node runs (argv: LISTEN_HOST TARGET_HOST PORT,PORT PROBE_PORT TIMEOUT_MS). */
  readonly script: string;
  /** The pod address decides the family: IPv6 probes over ::1 → ::6, IPv4 over 127.0.0.1 → 127.0.0.6. */
  readonly family: IpFamily;
  readonly proxyPort: number;
  readonly capturePort: number;
  readonly probePort: number;
  readonly timeoutMs: number;
}

/** How long past --probe-timeout the probe process may take to start and report. */
const PROBE_GRACE_MS = 10_000;

const PROBE_HOSTS: Readonly<Record<IpFamily, readonly [listen: string, target: string]>> = {
  ipv4: ['127.0.0.1', '127.0.0.6'],
  ipv6: ['::1', '::6'],
};

export async function runValidation(
  runner: CommandRunner,
  settings: ProbeSettings,
  log: (line: string) => void,
): Promise<void> {
  const [listen, target] = PROBE_HOSTS[settings.family];
  const result = await runner.run({
    file: process.execPath,
    args: [
      settings.script,
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
