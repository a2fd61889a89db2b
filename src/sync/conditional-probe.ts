// Fencing rests on `If-None-Match: *`: two writers' L0 uploads for one TXID must not
// both succeed. A server that ignores the header (older MinIO, some gateways) lets
// both "win" silently. So before a writer acknowledges its first commit it proves the
// server refuses a second create of one key: a probe object under the replica's
// prefix (outside every level, so listings never see it), created twice, then deleted.
// Cost: 3 requests (PUT, PUT, DELETE), on writer open only, never on the read path.
// A file:// store needs none: its create is link(2), which refuses an existing name.
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.js';
import { S3Store } from '../storage/s3-store.js';
import { isStoreError } from '../storage/store-error.js';
import { redactUrl } from '../redact.js';

export const PROBE_PREFIX = '.ltxvfs-probe/';
/** Requests one probe makes. */
export const PROBE_REQUESTS = 3;

export class ConditionalWriteError extends Error {
  readonly code = 'CONDITIONAL_WRITE_UNSUPPORTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConditionalWriteError';
  }
}

/** Throws ConditionalWriteError when the store does not refuse a second `If-None-Match: *` PUT. */
export async function probeConditionalWrites(store: ObjectStore): Promise<void> {
  if (!(store instanceof S3Store)) return;
  const key = `${PROBE_PREFIX}${randomBytes(12).toString('hex')}`;
  const server = `${redactUrl(store.endpoint)} (${store.url})`;
  const lacks = `refusing to write: ${server} does not honour If-None-Match: * on PUT, which fencing needs (two writers could both succeed); use a server that supports conditional writes`;
  // Different bytes each time: a retried create that meets its own earlier copy is
  // taken as success by the store (same ETag), which must not hide a second success.
  await store.putIfAbsent(key, randomBytes(16));
  try {
    try {
      await store.putIfAbsent(key, randomBytes(17));
    } catch (err) {
      if (isStoreError(err, 'PRECONDITION_FAILED')) return;
      throw new ConditionalWriteError(`${lacks} (a second create of ${key} failed with ${(err as Error).message}, not 412 Precondition Failed)`, { cause: err });
    }
    throw new ConditionalWriteError(`${lacks} (a second create of ${key} succeeded)`);
  } finally {
    await store.deleteMany([key]).catch(() => undefined); // a stray probe object harms nobody
  }
}
