/** Process glue of bin/istio-iptables-cni: environment, stdin, stdout and the exit code. */
import { readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { processRunner } from '../exec/process-runner.js';
import { applyForReal, namespaceHostFacts } from '../cli/real-deps.js';
import { checkCapture } from './check.js';
import { runPlugin } from './plugin.js';

// A runtime usually passes its own PATH; without one, iptables and nsenter are still found.
process.env.PATH ||= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

void runPlugin(
  { env: process.env, stdin: readStdin(), log: (line) => writeSync(2, `${line}\n`) },
  {
    hostFacts: namespaceHostFacts,
    apply: applyForReal,
    check: (plan, options) => checkCapture(plan, options, processRunner),
    writeFile: (path, text) => writeFileSync(path, text),
    namespaceExists: (path) => {
      try {
        statSync(path);
        return true;
      } catch {
        return false;
      }
    },
  },
).then(({ stdout, exitCode }) => {
  writeSync(1, stdout);
  process.exitCode = exitCode;
});
