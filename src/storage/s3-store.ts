// ObjectStore on S3 (AWS, Ceph RGW, MinIO, ...) over the S3 REST API: node:http/https
// with keep-alive agents, requests signed by `aws4` (./s3-signer.ts), the few XML
// answers read by ./s3-xml.ts. No AWS SDK on the request path: @aws-sdk/client-s3 took
// ~170-300 ms to load, and 380-660 ms to start inside the I/O worker; the SDK's
// credential chain is loaded only when no static credentials are given
// (./s3-credentials.ts). Our retries (./retry.ts) are the only ones, and are counted.
// Every attempt has a timeout; p-queue bounds how many requests are in flight, and
// the keep-alive agent has as many sockets.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import PQueue from 'p-queue';
import { listAll, type ByteRange, type ListOptions, type ListPage, type ObjectBytes, type ObjectHead, type ObjectInfo, type ObjectStore, type ObjectStream, type PutBody, type PutOptions } from './object-store.js';
import { DEFAULT_RETRY_POLICY, TransientError, httpStatusOf, isThrottling, withRetry, type RetryPolicy } from './retry.js';
import { credentialSource } from './s3-credentials.js';
import { S3Http, drain, headerString, metadataOf, readText, type S3Call } from './s3-http.js';
import { UNSIGNED_PAYLOAD } from './s3-signer.js';
import { xmlElements, xmlEscape, xmlText } from './s3-xml.js';
import { StatsCounter, type StoreStats } from './stats.js';
import { StoreError, type StoreOp } from './store-error.js';

export interface S3StoreOptions {
  bucket: string;
  /** Root prefix inside the bucket; keys are relative to it. A trailing `/` is added. */
  prefix?: string;
  /** e.g. `http://127.0.0.1:9000`; omitted: AWS. */
  endpoint?: string;
  /** Default: AWS_REGION, else `us-east-1`. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default true when an endpoint is given. */
  forcePathStyle?: boolean;
  /**
   * Omitted: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
   * SDK's default provider chain (profiles, SSO, container, instance), loaded only then.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Requests in flight at most (and sockets per agent). */
  concurrency?: number;
  /** Per attempt, headers and body together, in ms. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** For deterministic backoff in tests. */
  random?: () => number;
}

// 16 in flight: enough to keep a 2-core client busy on small range GETs (8 parallel
// range GETs already reach ~970 req/s on loopback); not yet measured against real S3.
export const DEFAULT_CONCURRENCY = 16;
// 30 s per attempt: generous for page-sized range GETs (~2 ms on loopback, ~20-50 ms
// first byte on S3); whole-file GETs of big objects should be split into ranges.
export const DEFAULT_TIMEOUT_MS = 30_000;

const DELETE_BATCH = 1000; // DeleteObjects' limit per request

export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly bucket: string;
  private readonly root: string;
  /** The server, for messages: the endpoint URL, or `AWS`. */
  readonly endpoint: string;
  private readonly http: S3Http;
  private readonly queue: PQueue;
  private readonly counters = new StatsCounter();
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly random?: () => number;
  private closed = false;

  constructor(options: S3StoreOptions) {
    if (!options.bucket) throw new TypeError('S3Store: bucket is required');
    this.bucket = options.bucket;
    this.root = options.prefix ? options.prefix.replace(/\/*$/, '/') : '';
    this.endpoint = options.endpoint ?? 'AWS';
    this.url = `s3://${this.bucket}/${this.root}`;
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.random = options.random;
    this.queue = new PQueue({ concurrency });
    const region = options.region ?? (process.env.AWS_REGION || undefined) ?? 'us-east-1';
    // Nothing is loaded or connected here: the signer at the first request, the SDK's
    // credential chain only at the first request of a store without static credentials.
    this.http = new S3Http({
      bucket: this.bucket,
      endpoint: options.endpoint,
      region,
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      credentials: credentialSource(options.credentials, region),
      maxSockets: concurrency,
    });
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.run('list', prefix, async (signal) => {
      const query: Record<string, string> = { 'list-type': '2', prefix: this.root + prefix };
      if (options.startAfter !== undefined) query['start-after'] = this.root + options.startAfter;
      if (options.maxKeys !== undefined) query['max-keys'] = String(options.maxKeys);
      const xml = await readText(await this.http.request({ method: 'GET', query, signal }));
      // A body cut short that still parsed as a shorter listing would drop keys silently.
      if (!/<\/ListBucketResult\s*>\s*$/.test(xml)) throw new TransientError('truncated', 'ListObjectsV2: an incomplete XML answer');
      const objects: ObjectInfo[] = xmlElements(xml, 'Contents').map((o) => ({
        key: (xmlText(o, 'Key') ?? '').slice(this.root.length),
        size: Number(xmlText(o, 'Size') ?? 0),
        lastModified: new Date(xmlText(o, 'LastModified') ?? 0),
      }));
      return { objects, isTruncated: xmlText(xml, 'IsTruncated') === 'true' };
    });
  }

  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix, options);
  }

  private getCall(key: string, range: ByteRange | undefined, signal: AbortSignal): S3Call {
    const header = rangeHeader(range);
    return { method: 'GET', key: this.root + key, headers: header === undefined ? undefined : { range: header }, signal };
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<Uint8Array> {
    return (await this.getWithMetadata(key, options)).bytes;
  }

  async getWithMetadata(key: string, options: { range?: ByteRange } = {}): Promise<ObjectBytes> {
    const { range } = options;
    if (range && ('suffix' in range ? range.suffix : range.length) === 0) return { bytes: new Uint8Array(0), metadata: {} };
    return this.run('get', key, async (signal) => {
      const body = await this.http.request(this.getCall(key, range, signal));
      const res = responseInfo(body);
      const onAbort = (): void => void body.destroy(new TransientError('timeout', 'timed out reading the body'));
      signal.addEventListener('abort', onAbort, { once: true });
      let bytes: Uint8Array;
      try {
        // A cut connection can end the body early without an error: readBody counts the bytes.
        bytes = await readBody(body, expectedLength(res.ContentRange, res.ContentLength));
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      if (range !== undefined && res.ContentRange === undefined) bytes = sliceLocally(bytes, range); // server ignored Range
      this.counters.add('get', 'bytes', bytes.length);
      return { bytes, metadata: res.metadata };
    });
  }

  async getStream(key: string, options: { range?: ByteRange } = {}): Promise<ObjectStream> {
    const { range } = options;
    if (range && ('suffix' in range ? range.suffix : range.length) === 0) return { length: 0, metadata: {}, body: noChunks() };
    // The queue slot is held until the body is read or dropped, so streams count
    // against `concurrency` like any other request.
    return new Promise<ObjectStream>((resolve, reject) => {
      void this.queue.add(async () => {
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        try {
          resolve(await this.openStream(key, range, release));
        } catch (err) {
          release();
          reject(err);
        }
        await released;
      });
    });
  }

  /** One GET, not retried; `release` is called once the stream is done with. */
  private async openStream(key: string, range: ByteRange | undefined, release: () => void): Promise<ObjectStream> {
    const fail = (err: unknown): StoreError => {
      this.counters.add('get', 'errors');
      return this.toStoreError(err, 'get', key, 1);
    };
    if (this.closed) throw fail(new StoreError('CLOSED', 'get', key, `store ${this.url} is closed`));
    this.counters.add('get', 'requests');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TransientError('timeout', `no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    let body: IncomingMessage;
    try {
      body = await this.http.request(this.getCall(key, range, controller.signal));
    } catch (err) {
      throw fail(controller.signal.aborted ? controller.signal.reason : err);
    } finally {
      clearTimeout(timer);
    }
    const res = responseInfo(body);
    // Which bytes of the body are the caller's: all of them, unless the server ignored Range.
    let skip = 0;
    let length: number | undefined;
    let bodyLength: number | undefined;
    if (range !== undefined && res.ContentRange === undefined && res.ContentLength !== undefined) {
      const total = res.ContentLength;
      const start = 'suffix' in range ? Math.max(0, total - range.suffix) : range.offset;
      const end = 'suffix' in range ? total : Math.min(total, range.offset + range.length);
      if (start >= total && total > 0) {
        body?.destroy();
        throw fail(new StoreError('RANGE_NOT_SATISFIABLE', 'get', key, `range starts at ${start}, past the end of ${total} bytes`));
      }
      skip = start;
      length = Math.max(0, end - start);
      bodyLength = total;
    } else {
      length = bodyLength = expectedLength(res.ContentRange, res.ContentLength);
    }
    if (!body || length === undefined || bodyLength === undefined) {
      body?.destroy();
      throw fail(new StoreError('IO', 'get', key, `${this.url}: a GET answer without ${body ? 'a length' : 'a body'}`));
    }
    const idleMs = this.timeoutMs;
    const counters = this.counters;
    const want = length;
    const want0 = skip;
    const have = bodyLength;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const it = body![Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      let seen = 0; // bytes of the body so far
      try {
        for (;;) {
          if (seen >= want0 + want && seen < have) break; // the server ignored Range: the rest is not ours
          // Idle, not whole-body, timeout: a slow but moving stream is fine; the clock
          // runs only while we wait, so a consumer that pauses is not timed out.
          const idle = setTimeout(() => void body!.destroy(new TransientError('timeout', `no bytes for ${idleMs} ms`)), idleMs);
          let r: IteratorResult<Buffer>;
          try {
            r = await it.next();
          } finally {
            clearTimeout(idle);
          }
          if (r.done) break;
          const chunk = r.value;
          const from = Math.max(0, want0 - seen);
          const to = Math.min(chunk.length, want0 + want - seen);
          seen += chunk.length;
          if (seen > have) throw new TransientError('transient', `body longer than its ${have} bytes`);
          if (to > from) {
            counters.add('get', 'bytes', to - from);
            yield from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
          }
        }
        if (seen < want0 + want) throw new TransientError('truncated', `truncated body: got ${Math.max(0, seen - want0)} of ${want} bytes`);
      } catch (err) {
        throw fail(err);
      } finally {
        if (seen < have) body!.destroy(); // left early (or failed): drop the connection, not the next request's
        await it.return?.().catch(() => undefined);
        release();
      }
    }
    return { length, metadata: res.metadata, body: chunks() };
  }

  async head(key: string): Promise<ObjectHead | null> {
    return this.run('head', key, async (signal) => {
      try {
        const res = await this.http.request({ method: 'HEAD', key: this.root + key, signal });
        res.resume();
        const info = responseInfo(res);
        const modified = headerString(res.headers, 'last-modified');
        return {
          size: info.ContentLength ?? 0,
          etag: unquote(headerString(res.headers, 'etag') ?? ''),
          lastModified: modified === undefined ? new Date(0) : new Date(modified),
          metadata: info.metadata,
        };
      } catch (err) {
        // HEAD has no error body: a missing bucket looks like a missing key here.
        if (httpStatusOf(err) === 404) return null;
        throw err;
      }
    });
  }

  put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    return this.putObject(key, body, options, false);
  }

  putIfAbsent(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    return this.putObject(key, body, options, true);
  }

  private async putObject(key: string, body: PutBody, options: PutOptions, ifAbsent: boolean): Promise<void> {
    const size = body instanceof Uint8Array ? body.length : body.size;
    let attempts = 0;
    try {
      await this.run('put', key, async (signal) => {
        attempts++;
        const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
        for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
        if (ifAbsent) headers['if-none-match'] = '*';
        // Bytes are signed with their sha256, as the SDK did; a stream is sent unsigned
        // (UNSIGNED-PAYLOAD, as the SDK did): hashing it first would read it twice.
        const call: S3Call =
          body instanceof Uint8Array
            ? { method: 'PUT', key: this.root + key, headers, body, payloadHash: sha256Hex(body), signal }
            : { method: 'PUT', key: this.root + key, headers, body: { size, stream: body.open() }, payloadHash: UNSIGNED_PAYLOAD, signal };
        await drain(await this.http.request(call));
        this.counters.add('put', 'bytes', size);
      });
    } catch (err) {
      // An earlier attempt may have been stored with its response lost (a reset after
      // the write): then the 412 is our own object. Same bytes => same MD5 ETag.
      if (ifAbsent && attempts > 1 && err instanceof StoreError && err.code === 'PRECONDITION_FAILED') {
        const existing = await this.head(key);
        if (existing && existing.etag === (await md5Hex(body))) return;
      }
      throw err;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      await this.run('delete', batch[0], async (signal) => {
        const objects = batch.map((k) => `<Object><Key>${xmlEscape(this.root + k)}</Key></Object>`).join('');
        const xml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${objects}<Quiet>true</Quiet></Delete>`);
        // DeleteObjects must carry a checksum of its body: Content-MD5 is the one every
        // S3-compatible server knows (the SDK now sends a CRC32 header instead).
        const headers = { 'content-type': 'application/xml', 'content-md5': createHash('md5').update(xml).digest('base64') };
        const answer = await readText(await this.http.request({ method: 'POST', query: { delete: '' }, headers, body: xml, payloadHash: sha256Hex(xml), signal }));
        if (!/<\/DeleteResult\s*>\s*$|<DeleteResult[^>]*\/>\s*$/.test(answer)) throw new TransientError('truncated', 'DeleteObjects: an incomplete XML answer');
        const errors = xmlElements(answer, 'Error').map((e) => ({ Key: xmlText(e, 'Key'), Code: xmlText(e, 'Code'), Message: xmlText(e, 'Message') }));
        const failed = errors.filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0];
          const detail = `${failed.length} keys not deleted, first ${JSON.stringify(first.Key)}: ${first.Code} ${first.Message ?? ''}`;
          // Deleting again is harmless, so a server-side hiccup is worth a retry.
          if (failed.every((e) => e.Code === 'InternalError' || e.Code === 'SlowDown' || e.Code === 'ServiceUnavailable')) {
            throw new TransientError('transient', detail);
          }
          throw new StoreError(failed[0].Code === 'AccessDenied' ? 'ACCESS_DENIED' : 'IO', 'delete', first.Key ?? '', detail);
        }
      });
    }
  }

  stats(): StoreStats {
    return this.counters.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.onIdle();
    this.http.destroy();
  }

  /** One call: queued per attempt (a backoff wait holds no slot), timed, retried, counted. */
  private async run<T>(op: StoreOp, key: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let attempts = 0;
    try {
      return await withRetry(
        () =>
          this.queue.add(async () => {
            if (this.closed) throw new StoreError('CLOSED', op, key, `store ${this.url} is closed`);
            attempts++;
            this.counters.add(op, 'requests');
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(new TransientError('timeout', `no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
            try {
              return await attempt(controller.signal);
            } catch (err) {
              if (controller.signal.aborted) throw controller.signal.reason as TransientError;
              throw err;
            } finally {
              clearTimeout(timer);
            }
          }),
        {
          policy: this.policy,
          random: this.random,
          shouldStop: () => this.closed,
          onRetry: () => this.counters.add(op, 'retries'),
        },
      );
    } catch (err) {
      this.counters.add(op, 'errors');
      throw this.toStoreError(err, op, key, attempts);
    }
  }

  private toStoreError(err: unknown, op: StoreOp, key: string, attempts: number): StoreError {
    if (err instanceof StoreError) return err;
    const e = err as { name?: string; message?: string; Code?: string };
    const status = httpStatusOf(err);
    const name = e.name ?? 'Error';
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    const where = `${this.url} at ${this.endpoint}`;
    const detail = `${status !== undefined ? `HTTP ${status} ` : ''}${name}: ${e.message ?? String(err)}${tries}`;
    const make = (code: StoreError['code'], text = detail): StoreError => new StoreError(code, op, key, text, { cause: err });
    if (name === 'NoSuchBucket') return make('NO_SUCH_BUCKET', `bucket ${JSON.stringify(this.bucket)} does not exist at ${this.endpoint}`);
    if (name === 'NoSuchKey' || status === 404) return make('NOT_FOUND', `no such key in ${where}`);
    if (status === 412 || name === 'PreconditionFailed') return make('PRECONDITION_FAILED', `already exists in ${where}`);
    if (status === 416 || name === 'InvalidRange') return make('RANGE_NOT_SATISFIABLE', `range starts past the end of the object${tries}`);
    if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
      return make('ACCESS_DENIED', `access denied to ${where}: ${detail}`);
    }
    if (err instanceof TransientError && err.kind === 'timeout') return make('TIMEOUT', `${err.message}${tries}`);
    if (isThrottling(err)) return make('THROTTLED', detail);
    return make('IO', detail);
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What S3Store reads from a GET or HEAD answer's headers. */
function responseInfo(res: IncomingMessage): { ContentRange: string | undefined; ContentLength: number | undefined; metadata: Record<string, string> } {
  const length = headerString(res.headers, 'content-length');
  return {
    ContentRange: headerString(res.headers, 'content-range'),
    ContentLength: length === undefined ? undefined : Number(length),
    metadata: metadataOf(res.headers),
  };
}

function rangeHeader(range: ByteRange | undefined): string | undefined {
  if (range === undefined) return undefined;
  return 'suffix' in range ? `bytes=-${range.suffix}` : `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

// eslint-disable-next-line require-yield
async function* noChunks(): AsyncGenerator<Uint8Array> {
  return;
}

/**
 * The whole body in one buffer of its own (the I/O worker moves an ArrayBuffer the
 * bytes own instead of copying it). Read straight into a buffer of the known length:
 * the SDK's collect-then-concatenate touches twice the memory, and first-touching
 * fresh memory is what costs most on a VM with free-page reporting (~4 ms/MiB here).
 */
async function readBody(body: Readable, length: number | undefined): Promise<Uint8Array> {
  if (length === undefined) {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      parts.push(chunk);
      n += chunk.length;
    }
    const out = ownBytes(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  const out = ownBytes(length);
  let at = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (at + chunk.length > length) {
      body.destroy();
      throw new TransientError('transient', `body longer than its ${length} bytes`);
    }
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== length) throw new TransientError('truncated', `truncated body: got ${at} of ${length} bytes`);
  return out;
}

/** An uninitialized Uint8Array that owns its whole ArrayBuffer (never a pool slice). */
function ownBytes(n: number): Uint8Array {
  return n === 0 ? new Uint8Array(0) : new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
}

/** Bytes the body must have: from `Content-Range: bytes a-b/total`, else Content-Length. */
function expectedLength(contentRange: string | undefined, contentLength: number | undefined): number | undefined {
  const m = contentRange === undefined ? null : /^bytes (\d+)-(\d+)\//.exec(contentRange);
  if (m) return Number(m[2]) - Number(m[1]) + 1;
  return contentLength;
}

function sliceLocally(bytes: Uint8Array, range: ByteRange): Uint8Array {
  if ('suffix' in range) return bytes.subarray(Math.max(0, bytes.length - range.suffix));
  return bytes.subarray(range.offset, range.offset + range.length);
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

async function md5Hex(body: PutBody): Promise<string> {
  const hash = createHash('md5');
  if (body instanceof Uint8Array) return hash.update(body).digest('hex');
  for await (const chunk of body.open()) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}
