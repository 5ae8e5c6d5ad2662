/** Process glue of bin/istio-iptables-cni: environment, stdin, stdout and the exit code. */
import { readFileSync, writeSync } from 'node:fs';
import { runPlugin } from './plugin.js';
import { realPluginDeps } from './real-deps.js';

// A runtime usually passes its own PATH; without one, iptables and nsenter are still found.
process.env.PATH ||= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

void runPlugin({ env: process.env, stdin: readStdin(), log: (line) => writeSync(2, `${line}\n`) }, realPluginDeps).then(
  ({ stdout, exitCode }) => {
    writeSync(1, stdout);
    process.exitCode = exitCode;
  },
);
