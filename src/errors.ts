/**
 * Typed errors. Library code throws these; only the CLI turns them into exit codes and
 * messages. Each carries a stable `code` and the context needed to explain itself.
 * Longer than ~200 lines because every error of the library is here, with its guard: one
 * file to read for what can go wrong.
 */

import type { IpFamily } from './model/family.js';

/** One problem with one input value. */
export interface Issue {
  /** The flag, environment variable or config key the value came from. */
  readonly source: string;
  readonly value: string;
  readonly message: string;
}

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'HOST_FACT_UNAVAILABLE'
  | 'COMMAND_FAILED'
  | 'RESTORE_FAILED'
  | 'BINARY_NOT_FOUND'
  | 'NAMESPACE_UNAVAILABLE'
  | 'VERIFY_FAILED'
  | 'DRIFT_NOT_RECONCILED'
  | 'VALIDATION_FAILED'
  | 'NOT_PRIVILEGED'
  | 'MODE_CONFLICT'
  | 'STATE_UNREADABLE'
  | 'CONFLICT'
  | 'LOCK_TIMEOUT'
  | 'INTERRUPTED';

/**
 * Marks this tool's errors. `isIptablesError` checks it rather than `instanceof`, which fails
 * across copies of this module: the CLI bundle's lazily loaded files each carry their own.
 */
const BRAND = Symbol.for('istio-iptables-ts.IptablesError');

export class IptablesError extends Error {
  override name = 'IptablesError';
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  /**
   * What went wrong while undoing a failed run, when undoing failed too: the state may be
   * half-changed. Empty when there was nothing to undo or the undo worked.
   */
  rollbackProblems: readonly string[] = [];
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Bad input: every problem found, at once. */
export class ConfigError extends IptablesError {
  override name = 'ConfigError';
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[]) {
    super('CONFIG_INVALID', ['invalid configuration:', ...issues.map(formatIssue)].join('\n  '));
    this.issues = issues;
  }
}

export function formatIssue(issue: Issue): string {
  return `${issue.source}=${JSON.stringify(issue.value)}: ${issue.message}`;
}

/** A setting upstream derives from the machine could not be derived. */
export class HostFactError extends IptablesError {
  override name = 'HostFactError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HOST_FACT_UNAVAILABLE', message, options);
  }
}

export function isIptablesError(error: unknown): error is IptablesError {
  return error instanceof IptablesError || (typeof error === 'object' && error !== null && BRAND in error);
}

/** By code rather than `instanceof`, for the same reason as `isIptablesError`. */
export function isConfigError(error: unknown): error is ConfigError {
  return isIptablesError(error) && error.code === 'CONFIG_INVALID';
}

/** A command the tool ran failed. */
export class CommandFailedError extends IptablesError {
  override name = 'CommandFailedError';
  readonly command: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(
    command: readonly string[],
    exitCode: number | undefined,
    stderr: string,
    options?: { code?: ErrorCode; message?: string; cause?: unknown },
  ) {
    const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
    super(
      options?.code ?? 'COMMAND_FAILED',
      options?.message ?? `\`${command.join(' ')}\` failed (exit ${exitCode ?? 'none'})${detail}`,
      options,
    );
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A command failed or could not run (a refused restore included). */
export function isCommandFailedError(error: unknown): error is CommandFailedError {
  return isIptablesError(error) && (error.code === 'COMMAND_FAILED' || error.code === 'RESTORE_FAILED');
}

/** iptables-restore refused a payload; `line` is the payload line it named, when it did. */
export class RestoreFailedError extends CommandFailedError {
  override name = 'RestoreFailedError';
  readonly family: IpFamily;
  readonly line: { readonly number: number; readonly text: string } | undefined;
  /**
   * True when the failed restore cannot have committed anything (it never took the lock, or
   * it failed in the payload's first table, which commits as one): nothing to roll back.
   */
  readonly changedNothing: boolean;
  /** Whether the other backend can open the table this one could not initialize, when asked. */
  otherBackendWorks: boolean | undefined;
  constructor(
    family: IpFamily,
    command: readonly string[],
    exitCode: number | undefined,
    stderr: string,
    payload: string,
    extra: { readonly changedNothing?: boolean; readonly why?: string } = {},
  ) {
    // A line refused while reading: `line 3 failed`; a rule the kernel refused at COMMIT (nft):
    // `line 7: RULE_APPEND failed (Invalid argument)`.
    const match = /line (\d+)(?: failed|: )/.exec(stderr);
    const number = match ? Number(match[1]) : undefined;
    const text = number === undefined ? undefined : payload.split('\n')[number - 1];
    const line = number !== undefined && text !== undefined ? { number, text } : undefined;
    const where = line ? `\n  payload line ${line.number}: ${line.text}` : '';
    // The kernel-support probe upstream runs before applying is left out (it writes a rule);
    // a missing module shows up here instead, so say which.
    const hint =
      /does not exist|unable to initialize table|No chain\/target\/match|Couldn't load|Extension \S+ revision/.test(
        stderr,
      )
        ? `\n  A table, match or target is missing: are the kernel modules loaded (${family === 'ipv6' ? 'ip6table_nat, ip6table_mangle, ip6table_raw' : 'iptable_nat, iptable_mangle, iptable_raw'} or nft_chain_nat, nft_compat; xt_owner, xt_multiport, xt_conntrack, xt_REDIRECT, xt_TPROXY, xt_mark, xt_connmark, xt_CT)?`
        : '';
    super(command, exitCode, stderr, {
      code: 'RESTORE_FAILED',
      message: `${family} restore failed (\`${command.join(' ')}\`, exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no error output'}${where}${hint}${extra.why ? `\n  ${extra.why}` : ''}`,
    });
    this.family = family;
    this.line = line;
    this.changedNothing = extra.changedNothing ?? false;
    this.otherBackendWorks = undefined;
  }
}

/** No iptables backend is usable in the target namespace. */
export class BinaryNotFoundError extends IptablesError {
  override name = 'BinaryNotFoundError';
  readonly family: IpFamily;
  readonly tried: readonly { readonly binary: string; readonly problem: string }[];
  constructor(family: IpFamily, tried: BinaryNotFoundError['tried']) {
    const list = tried.map((t) => `\n  ${t.binary}: ${t.problem}`).join('');
    super(
      'BINARY_NOT_FOUND',
      `no usable ${family} iptables backend (tried the nat, mangle and raw tables through:${list})\n` +
        `  Is the iptables package installed, and are the kernel modules loaded? For nft: nf_tables, nft_chain_nat, nft_compat; ` +
        `for legacy: ${family === 'ipv6' ? 'ip6_tables, ip6table_nat, ip6table_mangle, ip6table_raw' : 'ip_tables, iptable_nat, iptable_mangle, iptable_raw'}; ` +
        'and the matches: xt_owner, xt_conntrack, xt_multiport, xt_REDIRECT, xt_TPROXY, xt_mark, xt_connmark, xt_CT.',
    );
    this.family = family;
    this.tried = tried;
  }
}

/** The target network namespace is missing or not a namespace. */
export class NamespaceError extends IptablesError {
  override name = 'NamespaceError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('NAMESPACE_UNAVAILABLE', message, options);
  }
}

/** The state read back after applying is not the plan; the run was rolled back. */
export class VerifyError extends IptablesError {
  override name = 'VerifyError';
  readonly differences: readonly string[];
  constructor(family: IpFamily, differences: readonly string[]) {
    super(
      'VERIFY_FAILED',
      `${family} rules read back after applying differ from the plan:\n  ${differences.join('\n  ')}`,
    );
    this.differences = differences;
  }
}

/**
 * Rules of ours are live but differ from the plan, and replacing them was not allowed: nothing
 * was changed. The CLI says which flag allows it.
 */
export class DriftError extends IptablesError {
  override name = 'DriftError';
  readonly family: IpFamily;
  readonly differences: readonly string[];
  constructor(family: IpFamily, variant: string, differences: readonly string[]) {
    super(
      'DRIFT_NOT_RECONCILED',
      `${family} (${variant}): the live rules differ from the plan:\n  ${differences.join('\n  ')}\n` +
        'Nothing was changed: replacing drifted rules was not allowed.',
    );
    this.family = family;
    this.differences = differences;
  }
}

/**
 * The tool lacks the privileges it needs. `detail` is what was refused; `privileges` says which
 * of the needed capabilities the process holds (from its CapEff), when known.
 */
export class NotPrivilegedError extends IptablesError {
  override name = 'NotPrivilegedError';
  readonly missing: readonly string[];
  constructor(detail: string, privileges?: { readonly description: string; readonly missing: readonly string[] }) {
    const missing = privileges?.missing ?? [];
    const why = !privileges
      ? 'run as root or with CAP_NET_ADMIN (and CAP_NET_RAW).'
      : missing.length > 0
        ? `this process (${privileges.description}) needs ${missing.join(' and ')}: add ${missing.length === 1 ? 'it' : 'them'} to the container's securityContext capabilities.`
        : `this process (${privileges.description}) holds every capability needed, so the refusal comes from elsewhere (a root-only file, a security module, or a user namespace).`;
    super('NOT_PRIVILEGED', `not permitted to change netfilter rules: ${why} ${detail}`.trim());
    this.missing = missing;
  }
}

/**
 * A state read the tool cannot fully understand: a table iptables cannot render (`# Table
 * 'nat' is incompatible`), a line it cannot parse, or a warning it does not know. Nothing is
 * written on such a read: a rollback to it would put back a misread table.
 */
export class UnreadableStateError extends IptablesError {
  override name = 'UnreadableStateError';
  /** The table the unreadable line is in, or names; undefined when no table can be told. */
  readonly table: string | undefined;
  /** The line as read. */
  readonly line: string;
  readonly family: IpFamily | undefined;
  /** The program whose output it was (`iptables-nft-save`, …). */
  readonly binary: string | undefined;
  constructor(detail: { table?: string; line: string; family?: IpFamily; binary?: string }) {
    const table = detail.table;
    const from = detail.binary ? `${detail.family ?? ''} ${detail.binary}`.trim() : 'iptables-save';
    const look = lookCommand(detail.binary, detail.family, table);
    super(
      'STATE_UNREADABLE',
      `${from}: cannot read ${table ? `table ${table}` : 'the state'} completely: ${JSON.stringify(detail.line)}\n` +
        '  Nothing was changed: a run writes only over state it has read in full.\n' +
        `  Look at the table with \`${look}\`; rules iptables cannot show (nft-native rules, such as sets) ` +
        'must be removed or moved to a table of their own before this tool can work here.',
    );
    this.table = table;
    this.line = detail.line;
    this.family = detail.family;
    this.binary = detail.binary;
  }
}

function lookCommand(binary: string | undefined, family: IpFamily | undefined, table: string | undefined): string {
  const nftFamily = family === 'ipv6' ? 'ip6' : 'ip';
  if (binary?.includes('legacy')) return `${binary}${table ? ` -t ${table}` : ''}`;
  return table ? `nft list table ${nftFamily} ${table}` : `nft list ruleset ${nftFamily}`;
}

/**
 * The namespace holds something that conflicts with the plan, which the tool must not take
 * over or leave beside it: a second copy of the capture, a route table in other use.
 * `fix` says what to do; the CLI adds the flag names.
 */
export class ConflictError extends IptablesError {
  override name = 'ConflictError';
  readonly kind: 'other-copy' | 'route-table' | 'fwmark' | 'legacy-unreadable';
  readonly findings: readonly string[];
  constructor(kind: ConflictError['kind'], message: string, findings: readonly string[]) {
    super('CONFLICT', `${message}${findings.map((f) => `\n  ${f}`).join('')}`);
    this.kind = kind;
    this.findings = findings;
  }
}

/** `--run-validation` could not see a connection captured. */
export class ValidationFailedError extends IptablesError {
  override name = 'ValidationFailedError';
  constructor(detail: string) {
    super(
      'VALIDATION_FAILED',
      `iptables validation failed; workload is not ready for Istio. ${detail}\n` +
        'When the rules are applied by the CNI plugin, the pod may have started before they were in place; ' +
        'the CNI repair controller (values.cni.repair.deletePods) restarts such pods.',
    );
  }
}

/**
 * Rules of the iptables mode are live in the namespace: applying native nftables rules too would
 * capture traffic twice. (The iptables mode's own guard is a ConflictError.)
 */
export class ModeConflictError extends IptablesError {
  override name = 'ModeConflictError';
  readonly found: readonly string[];
  constructor(found: readonly string[]) {
    super(
      'MODE_CONFLICT',
      `rules of the iptables mode are live in this namespace; adding nftables rules would capture traffic twice. Nothing was changed. Found:\n  ${found.join('\n  ')}`,
    );
    this.found = found;
  }
}

/** The nftables tables read back after applying are not the plan; they were put back as they were. */
export class NftVerifyError extends IptablesError {
  override name = 'NftVerifyError';
  readonly differences: readonly string[];
  constructor(differences: readonly string[]) {
    super(
      'VERIFY_FAILED',
      `nftables tables read back after applying differ from the plan:\n  ${differences.join('\n  ')}`,
    );
    this.differences = differences;
  }
}

/** Our nftables tables differ from the plan, and replacing them was not allowed: nothing was changed. */
export class NftDriftError extends IptablesError {
  override name = 'NftDriftError';
  readonly differences: readonly string[];
  constructor(differences: readonly string[]) {
    super(
      'DRIFT_NOT_RECONCILED',
      `nftables: the live tables differ from the plan:\n  ${differences.join('\n  ')}\nNothing was changed: replacing drifted rules was not allowed.`,
    );
    this.differences = differences;
  }
}

/** Another run held the namespace's lock for longer than --lock-timeout; nothing was changed. */
export class LockTimeoutError extends IptablesError {
  override name = 'LockTimeoutError';
  /** The processes found holding the lock (empty when they could not be found). */
  readonly holders: readonly { readonly pid: number; readonly command: string }[];
  constructor(what: string, timeoutMs: number, holders: LockTimeoutError['holders']) {
    const by =
      holders.length > 0
        ? `held by ${holders.map((h) => `pid ${h.pid} (${h.command})`).join(', ')}`
        : 'its holder could not be found';
    super(
      'LOCK_TIMEOUT',
      `another run is working on ${what}: gave up waiting for its lock after ${timeoutMs / 1000}s (${by}). ` +
        'Nothing was changed; retry later, or raise --lock-timeout.',
    );
    this.holders = holders;
  }
}

/** SIGTERM or SIGINT stopped the run at a change it had not begun; what it had changed was rolled back. */
export class InterruptedError extends IptablesError {
  override name = 'InterruptedError';
  readonly signal: string;
  constructor(signal: string) {
    super(
      'INTERRUPTED',
      `stopped by ${signal}: the run made no further change after the signal and rolled back what it had changed`,
    );
    this.signal = signal;
  }
}

/** Programs a run needs are not on PATH; found before anything was changed. */
export class ProgramsMissingError extends IptablesError {
  override name = 'ProgramsMissingError';
  readonly missing: readonly { readonly name: string; readonly why: string }[];
  constructor(missing: ProgramsMissingError['missing'], path: string) {
    super(
      'BINARY_NOT_FOUND',
      `not on PATH (${path}), so nothing was changed:${missing.map((m) => `\n  ${m.name}: needed for ${m.why}`).join('')}`,
    );
    this.missing = missing;
  }
}
