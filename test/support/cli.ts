/** Shared test helpers: run the CLI in-process, fake machine facts, shell words, fixture paths. */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostFacts } from '../../src/config/derive.js';
import { main, type CliDeps } from '../../src/cli/main.js';

/** The repository root (this file is test/support/cli.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Upstream's reference cases, copied into the repository (test/fixtures/istio/README.md names their source). */
export const REFERENCE_CASES_DIR = resolve(REPO_ROOT, 'test/fixtures/istio');

/** The flags Istio's sidecar injector writes for istio-init by default (REDIRECT, all inbound ports). */
export const INJECTOR_FLAGS: readonly string[] = [
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '',
  '-b',
  '*',
  '-d',
  '15090,15021,15020',
];

export const GOLDEN_DIR = resolve(REPO_ROOT, 'golden');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** HostFacts that record every call and then throw: for runs that must not ask the machine. */
export interface ForbiddenHostFacts extends HostFacts {
  readonly calls: string[];
}

export function forbiddenHostFacts(): ForbiddenHostFacts {
  const calls: string[] = [];
  const refuse = (what: string): never => {
    calls.push(what);
    throw new Error(`test: HostFacts.${what} must not be called`);
  };
  return {
    calls,
    interfaceAddresses: () => refuse('interfaceAddresses()'),
    readTextFile: (path) => refuse(`readTextFile(${path})`),
    lookupUserId: (name) => refuse(`lookupUserId(${name})`),
  };
}

/** Reads files (relative paths from the repository root); everything else is refused. */
export function fileOnlyHostFacts(): ForbiddenHostFacts {
  const facts = forbiddenHostFacts();
  return {
    ...facts,
    readTextFile: async (path) => {
      facts.calls.push(`readTextFile(${path})`);
      return readFile(isAbsolute(path) ? path : resolve(REPO_ROOT, path), 'utf8');
    },
  };
}

/**
 * Runs `main()` with a collecting io and a `deps` without `apply`, so nothing can ever be
 * applied. `env` is the whole environment the CLI sees (the test process's is not used).
 */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
  hostFacts: HostFacts = forbiddenHostFacts(),
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  // A fixed clock: log lines are stamped 1970-01-01T00:00:00.000000Z.
  const deps: CliDeps = { hostFacts: async () => hostFacts, clock: () => 0 };
  const code = await main(
    argv,
    env,
    {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      readStdin: () => Promise.reject(new Error('test: no stdin')),
      readFile: (path) => readFile(isAbsolute(path) ? path : resolve(REPO_ROOT, path), 'utf8'),
    },
    deps,
  );
  return { code, stdout, stderr };
}

/** One log message of the plain format: `TIME\tLEVEL\t[SCOPE\t]MESSAGE`, continuation lines included. */
export interface LogRecord {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
}

const LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)\t(debug|info|warn|error)\t(.*)$/;

/** Plain log text → its messages; a line that starts no message continues the one before. */
export function parseLog(text: string): LogRecord[] {
  const records: { time: string; level: string; msg: string }[] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const match = LOG_LINE.exec(line);
    if (match) records.push({ time: match[1] ?? '', level: match[2] ?? '', msg: match[3] ?? '' });
    else if (records.length > 0 && line !== undefined) (records.at(-1) as { msg: string }).msg += `\n${line}`;
    else if (line !== '') throw new Error(`not a log line: ${JSON.stringify(line)}`);
  }
  return records;
}

/** The messages of a run's log as `LEVEL: MESSAGE`, without the configuration dump every run starts with. */
export function logMessages(text: string): string[] {
  return parseLog(text)
    .filter((record) => !record.msg.startsWith('Istio iptables variables:\n'))
    .map((record) => `${record.level}: ${record.msg}`);
}

/** Characters with a meaning to the shell beyond quoting; refused unquoted so bash would agree. */
const SHELL_SPECIAL = new Set([...'$`;&|<>(){}*?[]~#!']);

/**
 * Splits a line into words the way bash would for the subset used in golden/<name>/flags:
 * blanks separate words; '…' is literal; "…" is literal except `\"`, `\\`, `\$` and `` \` ``;
 * `\x` outside quotes is x. Anything that would make bash expand or redirect is an error.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= '';
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
        const d = line[i] ?? '';
        if (d === '$' || d === '`') throw new Error(`expansion inside "…" is not supported: ${line}`);
        if (d === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) word += line[++i];
        else word += d;
      }
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error(`trailing \\ in: ${line}`);
      word = (word ?? '') + line[++i];
    } else if (SHELL_SPECIAL.has(c)) {
      throw new Error(`unquoted ${c} in: ${line} (quote it)`);
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** `KEY=VALUE` lines (value literal, may be empty); blank lines are skipped. */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not KEY=VALUE: ${JSON.stringify(line)}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
