/** Process glue: argv, env, stdio and the exit code. Everything else is in main(). */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { main } from './main.js';
import { localHostFacts } from './host-facts.js';

const code = await main(
  process.argv.slice(2),
  process.env,
  {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    readStdin: () => text(process.stdin),
    readFile: (path) => readFile(path, 'utf8'),
  },
  {
    async hostFacts(netns) {
      if (!netns) return localHostFacts;
      // Loaded only for a namespace: a dry run in our own namespace never needs execa.
      const { namespaceHostFacts } = await import('./real-deps.js');
      return namespaceHostFacts(netns);
    },
    async apply(plan, parsed, log) {
      const { applyForReal } = await import('./real-deps.js');
      await applyForReal(plan, parsed, log);
    },
  },
);
process.exitCode = code;
