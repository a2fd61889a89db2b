// Retries with exponential backoff and full jitter ("Exponential Backoff And Jitter",
// AWS Architecture Blog, 2015: full jitter spreads competing clients out best).
// Transient failures are retried: 5xx, throttling (429, SlowDown), S3's 400
// RequestTimeout, 409 ConditionalRequestConflict (AWS asks to retry those),
// connection errors and truncated bodies. Any other 4xx is a real answer and never retried.

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The first retry waits up to this long; each further one doubles it. */
  baseDelayMs: number;
  /** Cap on a single wait. */
  maxDelayMs: number;
}

// 6 attempts with waits of up to 0.1, 0.2, 0.4, 0.8, 1.6 s: about 1.5 s expected,
// 3.1 s at worst, in total. At a 10% rate of independent transient failures, a call
// then fails for good once in a million; longer outages should surface, not hang.
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5_000 };

/** A failure our own code detected that is worth another attempt (truncated body, timeout). */
export class TransientError extends Error {
  readonly kind: 'truncated' | 'timeout' | 'transient';
  constructor(kind: TransientError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
    this.kind = kind;
  }
}

const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
]);

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/** The HTTP status of an SDK error, if it got that far. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as SdkLikeError | null;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

export function isThrottling(err: unknown): boolean {
  const e = err as SdkLikeError | null;
  return httpStatusOf(err) === 429 || (e?.name !== undefined && THROTTLING.has(e.name));
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as SdkLikeError;
  if (isThrottling(err)) return true;
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 500) return true;
  if (status === 400 && e.name === 'RequestTimeout') return true;
  if (status === 409 && e.name === 'ConditionalRequestConflict') return true;
  if (status !== undefined && status >= 400) return false;
  if (e.code !== undefined && CONNECTION_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError') return true; // the SDK handler's socket/connection timeouts
  // A 2xx response the SDK could not parse (a body cut short) is transient too.
  if (status !== undefined && status < 300) return true;
  return /socket hang up|aborted|premature close|other side closed/i.test(e.message ?? '');
}

/** Full jitter: uniform in [0, min(cap, base * 2^(retry-1))]. `retry` counts from 1. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

export interface RetryHooks {
  policy: RetryPolicy;
  /** Called before each wait; `retry` counts from 1. */
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
  random?: () => number;
  /** Stop retrying (e.g. the store is closing). */
  shouldStop?: () => boolean;
}

/** Run `attempt(n)` (n from 1) until it succeeds, fails for good, or attempts run out. */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, hooks: RetryHooks): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= hooks.policy.maxAttempts || !isRetryable(err) || hooks.shouldStop?.()) throw err;
      const delay = backoffDelay(hooks.policy, n, hooks.random);
      hooks.onRetry?.(err, n, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
