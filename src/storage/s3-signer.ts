// AWS Signature Version 4 for S3 requests, by `aws4` (mhart/aws4: zero dependencies,
// node:crypto HMAC/SHA-256, signs Node http request options; pinned in package.json).
// Measured on the 2-core dev VM, fresh `node` processes, median of 7, against radosgw:
//   aws4                      import 14 ms, sign + first ranged GET (node:http) 19 ms
//   @smithy/signature-v4 5.7  import 55 ms (pulls @smithy/core), first GET 22 ms
//   aws4fetch (fetch/undici)  import  4 ms, first GET 72 ms (undici and WebCrypto load then)
//   aws4fetch's signer + http import  4 ms, first GET 61 ms (crypto.subtle's first use)
//   @aws-sdk/client-s3        import 167 ms, first GET 36 ms
// aws4 is CommonJS and loaded at the first signature, not at import, so file:// users
// never load it. It keeps a small LRU of derived signing keys (per secret, day, region).
import { createRequire } from 'node:module';
import type { S3Credentials } from './s3-credentials.js';

interface Aws4Request {
  host: string;
  path: string;
  method: string;
  service: string;
  region: string;
  headers: Record<string, string>;
}

interface Aws4 {
  sign(request: Aws4Request, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Aws4Request;
}

let aws4: Aws4 | undefined;

/** sha256 of an empty body, S3's payload hash for requests without one. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** The payload hash of a streamed body: not signed (TLS protects it on https). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SignInput {
  method: string;
  /** `host[:port]` as sent in the Host header. */
  host: string;
  /** Already URI-encoded path, with the query string if any. */
  path: string;
  /** Lower-case names. `x-amz-content-sha256` must be set (a hex sha256 or UNSIGNED_PAYLOAD). */
  headers: Record<string, string>;
  region: string;
  credentials: S3Credentials;
  /** Signing time (the clock corrected by the server's, when it was off). */
  now: Date;
}

/** The headers to send (Authorization, X-Amz-Date, X-Amz-Security-Token added) and the path as signed. */
export function signS3(input: SignInput): { path: string; headers: Record<string, string> } {
  aws4 ??= createRequire(import.meta.url)('aws4') as Aws4;
  const headers: Record<string, string> = { ...input.headers, host: input.host, 'x-amz-date': amzDate(input.now) };
  const { accessKeyId, secretAccessKey, sessionToken } = input.credentials;
  const signed = aws4.sign({ host: input.host, path: input.path, method: input.method, service: 's3', region: input.region, headers }, { accessKeyId, secretAccessKey, sessionToken });
  return { path: signed.path, headers: signed.headers };
}

/** `20240506T070809Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}
