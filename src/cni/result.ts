/** The plugin's answers on stdout: a result, or the spec's error object for any failure. */
import { formatIssue, isConfigError, isIptablesError } from '../errors.js';
import { CNI_ERROR, CniError } from './protocol.js';

export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

/** A successful call's result (ADD's is the previous plugin's result, passed through). */
export function ok(result: object): PluginOutput {
  return { stdout: `${JSON.stringify(result)}\n`, exitCode: 0 };
}

/** Any failure as the spec's error object, exit code 1; typed errors keep their explanation. */
export function failed(cniVersion: string, error: unknown): PluginOutput {
  let code: number = CNI_ERROR.captureFailed;
  let msg: string;
  let details: string | undefined;
  if (error instanceof CniError) {
    code = error.code;
    msg = error.message;
    details = error.details;
  } else if (isConfigError(error)) {
    code = CNI_ERROR.invalidPodConfig;
    msg = 'invalid capture configuration for the pod';
    details = error.issues.map(formatIssue).join('; ');
  } else if (isIptablesError(error)) {
    // A held lock is the spec's "try again later": another call is working on the pod. The
    // setting to raise is the network config's (by its code: the lazy nftables bundle has its
    // own copy of the error classes).
    if (error.code === 'LOCK_TIMEOUT') code = CNI_ERROR.tryAgainLater;
    const text =
      error.code === 'LOCK_TIMEOUT' ? error.message.replace('--lock-timeout', 'lock_timeout') : error.message;
    const [first, ...rest] = text.split('\n');
    msg = first ?? error.code;
    if (rest.length > 0) details = rest.join('\n').trim();
  } else {
    msg = 'internal error';
    details = (error as Error)?.stack ?? String(error);
  }
  return {
    stdout: `${JSON.stringify({ cniVersion, code, msg, ...(details ? { details } : {}) })}\n`,
    exitCode: 1,
  };
}
