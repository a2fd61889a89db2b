// Which failures are retried, and how long the waits are. The error objects carry the
// fields the SDK sets ($metadata.httpStatusCode, name, code); real SDK errors are
// exercised end to end in s3-store.test.ts.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, TransientError, backoffDelay, isRetryable, withRetry } from '../../src/storage/retry.js';

const http = (status: number, name = 'Error'): object => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const sys = (code: string): object => Object.assign(new Error(code), { code });

describe('retry', () => {
  it('retries 5xx, throttling, timeouts, connection errors and truncated bodies', () => {
    for (const err of [http(500, 'InternalError'), http(503, 'SlowDown'), http(429), http(400, 'RequestTimeout'), http(409, 'ConditionalRequestConflict'), http(400, 'SlowDown')]) {
      expect(isRetryable(err), JSON.stringify(err)).toBe(true);
    }
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']) expect(isRetryable(sys(code)), code).toBe(true);
    expect(isRetryable(new TransientError('truncated', 'short body'))).toBe(true);
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
  });

  it('never retries other 4xx, nor errors without a network cause', () => {
    for (const err of [http(400, 'InvalidArgument'), http(403, 'AccessDenied'), http(404, 'NoSuchKey'), http(404, 'NoSuchBucket'), http(412, 'PreconditionFailed'), http(416, 'InvalidRange'), http(409, 'BucketAlreadyExists')]) {
      expect(isRetryable(err), JSON.stringify(err)).toBe(false);
    }
    expect(isRetryable(new TypeError('bad argument'))).toBe(false);
    expect(isRetryable('string')).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(0);
    expect(backoffDelay(policy, 1, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 3, () => 0.999)).toBe(399);
    expect(backoffDelay(policy, 9, () => 0.999)).toBe(999);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0.5)).toBe(50);
  });

  it('withRetry stops at maxAttempts and reports each retry', async () => {
    const seen: number[] = [];
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw http(503);
      },
      { policy: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 }, onRetry: (_e, n) => seen.push(n) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(seen).toEqual([1, 2, 3]);
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(503);
  });

  it('withRetry fails at once on a non-retryable error, and returns the first success', async () => {
    let calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(http(404))), { policy: DEFAULT_RETRY_POLICY })).rejects.toMatchObject({ name: 'Error' });
    expect(calls).toBe(1);
    let n = 0;
    expect(await withRetry(async (attempt) => (++n < 3 ? Promise.reject(sys('ECONNRESET')) : attempt), { policy: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 } })).toBe(3);
  });
});
