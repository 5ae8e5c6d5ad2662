/** Shared benchmark helpers: timing, statistics, machine facts, clean environments. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { INJECTOR_ARGS } from '../scripts/injector-args.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = `${ROOT}bin/istio-iptables`;

/** The upstream injector's usual arguments. */
export const UPSTREAM_ARGS = [...INJECTOR_ARGS, '--enable-inbound-ipv6=false'];

/**
 * The environment for timed node processes: ours, less the variables that make every node
 * start slower whatever it runs (NODE_EXTRA_CA_CERTS makes node parse a CA bundle at start:
 * +60 ms here) or change what it runs (NODE_OPTIONS).
 */
export function cleanEnv() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
}

export const now = () => Number(process.hrtime.bigint()) / 1e6;

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Runs a command, failing loudly: a benchmark of a failing command measures nothing. */
export function run(file, args, options = {}) {
  const result = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result;
}

/** Wall time of one synchronous spawn, in ms. */
export function timeSpawn(file, args, options = {}) {
  const start = now();
  run(file, args, options);
  return now() - start;
}

function firstLine(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return 'unavailable';
  }
}

export function machine() {
  const model =
    readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: firstLine('nproc', []),
    cpu: model,
    kernel: release(),
    node: process.version,
    iptables: firstLine('iptables', ['--version']),
  };
}

/** A network namespace name no other run uses. */
let counter = 0;
export function namespaceName(label) {
  return `iit-bench-${process.pid}-${label}-${++counter}`;
}

export const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
