/** Bounded retries with exponential backoff; sleep is injected so tests use no real time. */

export interface RetryPolicy {
  readonly attempts: number;
  readonly delayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Called before each wait, with the attempt that failed and how long the wait is. */
  readonly onRetry?: (attempt: number, delayMs: number) => void;
}

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` until it returns a value `shouldRetry` rejects, or the attempts are used up. */
export async function retry<T>(
  fn: () => Promise<T>,
  shouldRetry: (result: T) => boolean,
  policy: RetryPolicy,
): Promise<T> {
  let result = await fn();
  for (let attempt = 1; attempt < policy.attempts && shouldRetry(result); attempt++) {
    const delay = policy.delayMs * 2 ** (attempt - 1);
    policy.onRetry?.(attempt, delay);
    await policy.sleep(delay);
    result = await fn();
  }
  return result;
}
