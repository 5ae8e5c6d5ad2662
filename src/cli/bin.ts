/** Process glue: argv, env, stdio and the exit code. Everything else is in main(). */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { main } from './main.js';
import { localHostFacts } from './host-facts.js';

const code = await main(process.argv.slice(2), process.env, {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: () => text(process.stdin),
  readFile: (path) => readFile(path, 'utf8'),
}, { host: localHostFacts });
process.exitCode = code;
