/** Process glue: argv, env, stdio and the exit code. Everything else is in main(). */
import { writeSync } from 'node:fs';
import { main } from './main.js';
import { localHostFacts, readTextFile } from '../exec/host-facts.js';

/**
 * What only real runs (and runs into another namespace) need: the executor, loaded with its own
 * code cache when first asked for, so that a dry run neither reads nor deserialises it.
 */
const realDeps = () => import('./real-deps.js');

/**
 * Writes straight to the file descriptor: the first use of process.stdout loads node's whole
 * stream stack, which takes longer than a dry run's own work. Should the descriptor be
 * non-blocking and full (EAGAIN), the rest goes through the stream, which waits for it. When
 * the reader has gone (EPIPE: `--dry-run | head`), the rest is dropped, as a reader that
 * stopped reading wants.
 */
function writer(fd: number, openStream: () => NodeJS.WriteStream): (text: string) => void {
  let mode: 'direct' | 'stream' | 'closed' = 'direct';
  let stream: NodeJS.WriteStream | undefined;
  return (text) => {
    if (mode === 'closed') return;
    const bytes = Buffer.from(text);
    let offset = 0;
    if (mode === 'direct') {
      try {
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          mode = 'closed';
          return;
        }
        if (code !== 'EAGAIN') throw error;
        mode = 'stream';
      }
    }
    // The stream's own errors (EPIPE there too) end its writing, not the run.
    stream ??= openStream().on('error', () => undefined);
    stream.write(bytes.subarray(offset));
  };
}

// No top-level await: the bundle is CommonJS, which node loads faster than an ES module.
void main(
  process.argv.slice(2),
  process.env,
  {
    stdout: writer(1, () => process.stdout),
    stderr: writer(2, () => process.stderr),
    readStdin: async () => (await import('node:stream/consumers')).text(process.stdin),
    readFile: readTextFile,
  },
  {
    hostFacts: async (netns) => (netns ? (await realDeps()).namespaceHostFacts(netns) : localHostFacts),
    apply: async (...args) => (await realDeps()).applyForReal(...args),
    applyNftables: async (...args) => (await realDeps()).applyNftablesForReal(...args),
  },
).then((code) => {
  process.exitCode = code;
});
