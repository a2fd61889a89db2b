// One signed S3 REST request over node:http/https, with the store's keep-alive agents.
// A 2xx answer resolves with the response (its body still to read); any other status
// is read (its XML error body, if any) and thrown as an S3ResponseError, whose `name`
// is S3's error code and `$metadata.httpStatusCode` the status, the shape ./retry.ts
// and S3Store's error mapping read. Connection failures are Node's own errors
// (ECONNRESET, ...), which ./retry.ts knows too. Nothing here retries.
import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { pipeline, type Readable } from 'node:stream';
import type { CredentialSource } from './s3-credentials.js';
import { TransientError } from './retry.js';
import { EMPTY_SHA256, signS3 } from './s3-signer.js';
import { xmlText } from './s3-xml.js';

export interface S3HttpOptions {
  bucket: string;
  /** e.g. `http://127.0.0.1:9000`; omitted: AWS (`https://s3.<region>.amazonaws.com`). */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials: CredentialSource;
  /** Sockets of the keep-alive agent (as many as requests in flight). */
  maxSockets: number;
}

type HttpModule = typeof import('node:http');
// node:http (and node:https, which loads tls) are required when a store is made, not at
// import: a file:// user imports this module too (~8 and ~12 ms here).
const requireBuiltin = createRequire(import.meta.url);

export interface S3Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** The object's full key (root prefix included); omitted for a bucket-level call. */
  key?: string;
  query?: Record<string, string>;
  /** Lower-case names. */
  headers?: Record<string, string>;
  /** Bytes, or a stream of exactly `size` bytes (sent with `Content-Length`). */
  body?: Uint8Array | { size: number; stream: Readable };
  /** Hex sha256 of the body, or UNSIGNED-PAYLOAD; default: that of an empty body. */
  payloadHash?: string;
  signal: AbortSignal;
}

/** A non-2xx answer. `name` is S3's error code (`NoSuchKey`, `SlowDown`, ...). */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  /** `x-amz-bucket-region` of a redirect or a wrong-region error. */
  readonly bucketRegion?: string;
  constructor(status: number, code: string, message: string, bucketRegion?: string) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.bucketRegion = bucketRegion;
  }
}

// Error bodies are small XML documents; read at most this much of one.
const MAX_ERROR_BODY = 64 * 1024;
// A signature more than 15 min off the server's clock is refused (RequestTimeTooSkewed).
const SKEW_ERRORS = new Set(['RequestTimeTooSkewed', 'RequestExpired']);
const EXPIRED_TOKEN = new Set(['ExpiredToken', 'TokenRefreshRequired']);
const USER_AGENT = 'ltxvfs (aws4; node:http)';

export class S3Http {
  private readonly options: S3HttpOptions;
  private readonly secure: boolean;
  private readonly transport: HttpModule;
  private readonly agent: Agent;
  private readonly hostname: string; // for the socket (no IPv6 brackets)
  private readonly port: number | undefined;
  private readonly hostHeader: string; // as signed and sent
  private readonly basePath: string; // '' or '/bucket', plus the endpoint's own path
  /** Server clock minus ours, learnt from a skew error; added to the signing time. */
  private clockOffsetMs = 0;

  constructor(options: S3HttpOptions) {
    this.options = options;
    const target = s3Target(options);
    this.secure = target.secure;
    this.hostname = target.hostname;
    this.port = target.port;
    this.hostHeader = target.hostHeader;
    this.basePath = target.basePath;
    this.transport = requireBuiltin(this.secure ? 'node:https' : 'node:http') as HttpModule;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  }

  /** Send one request; resolves with a 2xx response whose body the caller must read or destroy. */
  async request(call: S3Call): Promise<IncomingMessage> {
    const credentials = await this.options.credentials.get();
    const query = call.query ? Object.entries(call.query).map(([k, v]) => `${encodeKey(k)}=${encodeKey(v)}`).join('&') : '';
    const path = `${this.basePath}/${call.key === undefined ? '' : encodeKey(call.key).replace(/%2F/g, '/')}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = { ...call.headers, 'x-amz-content-sha256': call.payloadHash ?? EMPTY_SHA256 };
    const body = call.body;
    if (body !== undefined) headers['content-length'] = String(body instanceof Uint8Array ? body.length : body.size);
    const signed = signS3({ method: call.method, host: this.hostHeader, path, headers, region: this.options.region, credentials, now: new Date(Date.now() + this.clockOffsetMs) });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.transport.request({
        hostname: this.hostname,
        port: this.port,
        method: call.method,
        path: signed.path,
        headers: { ...signed.headers, 'user-agent': USER_AGENT },
        agent: this.agent,
        signal: call.signal,
      });
      let answered = false;
      req.on('response', (r) => {
        answered = true;
        resolve(r);
      });
      // After an answer, a failure to send the rest of the body (a server that answered
      // early, e.g. 412, and closed) is no news: the answer is what counts.
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      if (body === undefined) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else pipeline(body.stream, req, () => undefined); // errors reach req's 'error' (it is destroyed with them)
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw await this.responseError(res, call.method === 'HEAD');
  }

  /** Close the idle keep-alive sockets; requests after this fail. */
  destroy(): void {
    this.agent.destroy();
  }

  private async responseError(res: IncomingMessage, head: boolean): Promise<Error> {
    const status = res.statusCode ?? 0;
    let text = '';
    if (!head) {
      text = await readText(res, MAX_ERROR_BODY).catch(() => '');
    } else {
      res.resume();
    }
    const code = xmlText(text, 'Code') ?? headerString(res.headers, 'x-amz-error-code') ?? statusCode(status);
    const message = xmlText(text, 'Message') ?? headerString(res.headers, 'x-amz-error-message') ?? `${status} ${this.transport.STATUS_CODES[status] ?? ''}`.trim();
    const region = headerString(res.headers, 'x-amz-bucket-region');
    const err = new S3ResponseError(status, code, region && region !== this.options.region ? `${message} (the bucket is in region ${region}, not ${this.options.region})` : message, region);
    if (SKEW_ERRORS.has(code)) {
      // Sign the next attempt with the server's clock (a VM just booted may not have set its own yet).
      const serverNow = Date.parse(headerString(res.headers, 'date') ?? '');
      if (Number.isFinite(serverNow)) {
        this.clockOffsetMs = serverNow - Date.now();
        return new TransientError('transient', `${code}: the clock is ${Math.round(-this.clockOffsetMs / 1000)} s off the server's; retrying with the server's time`, { cause: err });
      }
    }
    if (EXPIRED_TOKEN.has(code) && this.options.credentials.kind === 'provider chain') {
      this.options.credentials.invalidate();
      return new TransientError('transient', `${code}: fetching new credentials`, { cause: err });
    }
    return err;
  }
}

/** Where a bucket's requests go: the socket's host and port, the Host header, the path before the key. */
export function s3Target(options: Pick<S3HttpOptions, 'bucket' | 'endpoint' | 'region' | 'forcePathStyle'>): {
  secure: boolean;
  hostname: string;
  port: number | undefined;
  hostHeader: string;
  basePath: string;
} {
  const { bucket, region } = options;
  const base = new URL(options.endpoint ?? `https://s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`S3 endpoint ${base.protocol}// is not http: or https:`);
  // Virtual-hosted (`bucket.host`) unless asked for path style, or the bucket name
  // cannot be a host name (on https, one with dots would not match the certificate).
  const virtual = !options.forcePathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
  const prefix = base.pathname.replace(/\/+$/, '');
  return {
    secure: base.protocol === 'https:',
    hostname: (virtual ? `${bucket}.${base.hostname}` : base.hostname).replace(/^\[(.*)\]$/, '$1'),
    port: base.port === '' ? undefined : Number(base.port),
    hostHeader: virtual ? `${bucket}.${base.host}` : base.host,
    basePath: virtual ? prefix : `${prefix}/${encodeKey(bucket)}`,
  };
}

/** S3's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX of its UTF-8 (so `/` too). */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A header's value, the first when repeated. */
export function headerString(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** User metadata: `x-amz-meta-*` headers, keys lower-case without the prefix. */
export function metadataOf(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) out[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/** A body as UTF-8 text (at most `max` bytes are kept). */
export async function readText(res: Readable, max = Infinity): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (n < max) parts.push(chunk);
    n += chunk.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Read and drop a body (an empty one, usually), so the socket goes back to the pool. */
export async function drain(res: Readable): Promise<void> {
  for await (const _ of res) void _;
}

function statusCode(status: number): string {
  switch (status) {
    case 301:
      return 'PermanentRedirect';
    case 304:
      return 'NotModified';
    case 400:
      return 'BadRequest';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 412:
      return 'PreconditionFailed';
    case 416:
      return 'InvalidRange';
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalError';
    case 503:
      return 'ServiceUnavailable';
    default:
      return `Http${status}`;
  }
}
