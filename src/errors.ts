/**
 * Typed errors. Library code throws these; only the CLI turns them into exit codes and
 * messages. Each carries a stable `code` and the context needed to explain itself.
 */

/** One problem with one input value. */
export interface Issue {
  /** The flag, environment variable or config key the value came from. */
  readonly source: string;
  readonly value: string;
  readonly message: string;
}

export type ErrorCode = 'CONFIG_INVALID' | 'HOST_FACT_UNAVAILABLE' | 'UNSUPPORTED' | 'COMMAND_FAILED' | 'RESTORE_FAILED' | 'BINARY_NOT_FOUND' | 'NAMESPACE_UNAVAILABLE' | 'VERIFY_FAILED' | 'VALIDATION_FAILED' | 'NOT_PRIVILEGED';

export class IptablesError extends Error {
  override name = 'IptablesError';
  readonly code: ErrorCode;
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

/** An accepted upstream feature this tool does not implement. */
export class UnsupportedError extends IptablesError {
  override name = 'UnsupportedError';
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}

export function isIptablesError(error: unknown): error is IptablesError {
  return error instanceof IptablesError;
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}
