/**
 * How a run that failed ends: the exit code for each kind of error, and one error message in
 * the log (several lines for an invalid configuration, which a JSON log keeps in one object).
 */
import { type ErrorCode, formatIssue, isConfigError, isIptablesError } from '../errors.js';
import { fixes } from './fixes.js';
import type { Logger } from './logging.js';
import { modeConflictHints } from './mode-conflict.js';

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Upstream's exit code for a failed `--run-validation`. */
  validation: 126,
} as const;

const EXIT_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  CONFIG_INVALID: EXIT.usage,
  HOST_FACT_UNAVAILABLE: EXIT.failure,
  COMMAND_FAILED: EXIT.failure,
  RESTORE_FAILED: EXIT.failure,
  BINARY_NOT_FOUND: EXIT.failure,
  NAMESPACE_UNAVAILABLE: EXIT.failure,
  VERIFY_FAILED: EXIT.failure,
  DRIFT_NOT_RECONCILED: EXIT.failure,
  NOT_PRIVILEGED: EXIT.failure,
  MODE_CONFLICT: EXIT.failure,
  STATE_UNREADABLE: EXIT.failure,
  CONFLICT: EXIT.failure,
  LOCK_TIMEOUT: EXIT.failure,
  INTERRUPTED: EXIT.failure,
  VALIDATION_FAILED: EXIT.validation,
};

/** Logs `error` at error level and returns the exit code it means. */
export function reportFailure(error: unknown, log: Logger): number {
  if (!isIptablesError(error)) {
    log.error(`internal error: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.failure;
  }
  const lines: string[] = [];
  if (isConfigError(error)) {
    const count = `${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}`;
    lines.push(
      `invalid configuration (${count}):`,
      ...error.issues.map((issue) => `  ${formatIssue(issue)}`),
      'Run with --help for the flags.',
    );
  } else {
    lines.push(error.message);
    if (error.code === 'DRIFT_NOT_RECONCILED')
      lines.push('  --reconcile=false forbids replacing them (drop it, or run --cleanup-only first).');
    lines.push(...modeConflictHints(error), ...fixes(error));
  }
  for (const problem of error.rollbackProblems) lines.push(`  ${problem}`);
  log.error(lines.join('\n'));
  return EXIT_BY_CODE[error.code];
}
