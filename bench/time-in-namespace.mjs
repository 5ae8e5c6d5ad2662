#!/usr/bin/env node
/**
 * Started inside a network namespace by bench/apply.mjs (`nsenter --net=NS node this '<steps>'`):
 * runs the steps one after another, each a JSON `[file, args, stdin?]`, and prints how long
 * they took together, in ms. Timing from in here, where an init container runs, leaves out
 * what entering the namespace costs, for the tool and the floor alike.
 */
import { spawnSync } from 'node:child_process';

const steps = JSON.parse(process.argv[2] ?? '[]');
const start = process.hrtime.bigint();
for (const [file, args, input] of steps) {
  const result = spawnSync(file, args, {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    input,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    console.error(
      `${file} ${args.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr ?? result.error}`,
    );
    process.exit(1);
  }
}
console.log(Number(process.hrtime.bigint() - start) / 1e6);
