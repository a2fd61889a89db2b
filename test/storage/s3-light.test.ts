// The light S3 path (src/storage/s3-*.ts): no AWS SDK module is loaded for a store with
// static credentials (counted in a fresh process, by a loader hook and require.cache),
// the SDK's credential chain still works without them, SigV4 matches AWS's published
// examples, and the REST layer's own pieces: XML, endpoints, credentials caching, a
// skewed clock, an expired token, errors without an XML body.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialSource, REFRESH_MARGIN_MS, type S3Credentials } from '../../src/storage/s3-credentials.js';
import { S3Http, S3ResponseError, encodeKey, readText, s3Target } from '../../src/storage/s3-http.js';
import { EMPTY_SHA256, signS3 } from '../../src/storage/s3-signer.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { xmlElements, xmlEscape, xmlText, xmlUnescape } from '../../src/storage/s3-xml.js';
import { ROOT, ensureBuilt } from '../support/cli.js';
import { testS3Config, uniquePrefix } from '../support/s3.js';
import { expectStoreError } from './store-suite.js';

describe('a store with static credentials loads no AWS SDK module', () => {
  let tmp: string;
  beforeAll(() => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-s3light-'));
    // Reports every module the ESM loader resolves (import, import()) to the main thread.
    writeFileSync(
      path.join(tmp, 'hook.mjs'),
      `let port;
       export function initialize(data) { port = data.port; }
       export async function resolve(specifier, context, next) {
         const r = await next(specifier, context);
         port.postMessage(r.url);
         return r;
       }`,
    );
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A fresh node that opens an S3Store, writes, reads, lists and deletes; what it loaded. */
  function child(options: { credentials: 'options' | 'env' | 'profile' }): { got: string; listed: string[]; esm: string[]; cjs: string[] } {
    const config = testS3Config();
    const prefix = uniquePrefix('light');
    const home = path.join(tmp, `home-${options.credentials}`);
    mkdirSync(home, { recursive: true });
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    Object.assign(env, { HOME: home, NODE_OPTIONS: '', AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const keys = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
    if (options.credentials === 'env') Object.assign(env, { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey });
    if (options.credentials === 'profile') {
      mkdirSync(path.join(home, '.aws'), { recursive: true });
      writeFileSync(path.join(home, '.aws/credentials'), `[default]\naws_access_key_id = ${keys.accessKeyId}\naws_secret_access_key = ${keys.secretAccessKey}\n`);
    }
    const storeOptions = { bucket: config.bucket, prefix, endpoint: config.endpoint, region: config.region, forcePathStyle: true, credentials: options.credentials === 'options' ? keys : undefined };
    const script = `
      import { createRequire, register } from 'node:module';
      import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
      const { port1, port2 } = new MessageChannel();
      register(${JSON.stringify(pathToFileURL(path.join(tmp, 'hook.mjs')).href)}, import.meta.url, { data: { port: port2 }, transferList: [port2] });
      const { S3Store } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/storage/s3-store.js')).href)});
      const store = new S3Store(${JSON.stringify(storeOptions)});
      await store.put('k', new TextEncoder().encode('hello light'), { metadata: { 'litestream-timestamp': 't' } });
      const got = new TextDecoder().decode(await store.get('k', { range: { offset: 6, length: 5 } }));
      const listed = [];
      for await (const o of store.list('')) listed.push(o.key);
      await store.head('k');
      await store.deleteMany(['k']);
      await store.close();
      const esm = [];
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) esm.push(m.message);
      port1.close();
      console.log(JSON.stringify({ got, listed, esm, cjs: Object.keys(createRequire(import.meta.url).cache) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, cwd: tmp });
    return JSON.parse(out.trim().split('\n').pop()!);
  }

  const sdkModules = (paths: string[]): string[] => paths.filter((p) => /[\\/]@(aws-sdk|smithy)[\\/]/.test(p));

  it('credentials in the options: GET, PUT, LIST, HEAD, DELETE; 0 @aws-sdk/@smithy modules', () => {
    const r = child({ credentials: 'options' });
    expect(r.got).toBe('light');
    expect(r.listed).toEqual(['k']);
    expect(r.esm.some((u) => u.endsWith('/dist/src/storage/s3-store.js'))).toBe(true); // the hook saw the imports
    expect(r.cjs.some((p) => /[\\/]aws4[\\/]aws4\.js$/.test(p))).toBe(true); // and require.cache the signer
    expect(sdkModules(r.esm)).toEqual([]);
    expect(sdkModules(r.cjs)).toEqual([]);
  });

  it('credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: 0 @aws-sdk/@smithy modules', () => {
    const r = child({ credentials: 'env' });
    expect(r.got).toBe('light');
    expect(sdkModules([...r.esm, ...r.cjs])).toEqual([]);
  });

  it('no static credentials: the SDK chain is loaded then, and a ~/.aws profile still works', () => {
    const r = child({ credentials: 'profile' });
    expect(r.got).toBe('light');
    expect(r.esm.some((u) => u.includes('/@aws-sdk/credential-provider-node/'))).toBe(true);
    expect(sdkModules(r.cjs).length).toBeGreaterThan(0);
  });
});

describe('SigV4 (aws4) against the examples in the S3 API reference', () => {
  // "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)"
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const base = { host: 'examplebucket.s3.amazonaws.com', region: 'us-east-1', credentials, now: new Date('2013-05-24T00:00:00Z') };
  const signature = (auth: string | undefined): string | undefined => /Signature=([0-9a-f]+)$/.exec(auth ?? '')?.[1];

  it('GET Bucket lifecycle, GET Bucket (list objects), PUT Object', () => {
    const lifecycle = signS3({ ...base, method: 'GET', path: '/?lifecycle', headers: { 'x-amz-content-sha256': EMPTY_SHA256 } });
    expect(signature(lifecycle.headers.Authorization)).toBe('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
    const list = signS3({ ...base, method: 'GET', path: '/?max-keys=2&prefix=J', headers: { 'x-amz-content-sha256': EMPTY_SHA256 } });
    expect(signature(list.headers.Authorization)).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
    const put = signS3({
      ...base,
      method: 'PUT',
      path: `/${encodeKey('test$file.text')}`,
      headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY', 'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072' },
    });
    expect(signature(put.headers.Authorization)).toBe('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    expect(put.path).toBe('/test%24file.text');
  });

  it('a session token is sent and signed', () => {
    const signed = signS3({ ...base, credentials: { ...credentials, sessionToken: 'tok/en+=' }, method: 'GET', path: '/k', headers: { 'x-amz-content-sha256': EMPTY_SHA256 } });
    expect(signed.headers['X-Amz-Security-Token']).toBe('tok/en+=');
    expect(signed.headers.Authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
  });
});

describe('s3-xml', () => {
  it('reads the elements S3 answers with, unescaping text', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix/><IsTruncated>true</IsTruncated>
      <Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;</Key><LastModified>2024-05-06T07:08:09.000Z</LastModified><Size>12</Size><Owner><ID>x</ID></Owner></Contents>
      <Contents><Key>z</Key><Size>0</Size></Contents></ListBucketResult>`;
    const contents = xmlElements(xml, 'Contents');
    expect(contents).toHaveLength(2);
    expect(xmlText(contents[0], 'Key')).toBe('a&b <c> "d" \'e\' é\u{1f600}');
    expect(xmlText(contents[0], 'Size')).toBe('12');
    expect(xmlText(xml, 'IsTruncated')).toBe('true');
    expect(xmlText(xml, 'Prefix')).toBe('');
    expect(xmlText(xml, 'NextContinuationToken')).toBeUndefined();
  });

  it('escapes keys for DeleteObjects so they read back exactly', () => {
    const key = 'a&b<c>"d\'e\tf\rg\u{1f600}';
    expect(xmlEscape(key)).not.toMatch(/[<>"'\t\r]/);
    expect(xmlUnescape(xmlEscape(key))).toBe(key);
  });
});

describe('s3Target: where requests go', () => {
  it('AWS: virtual-hosted on s3.<region>, path style for names that cannot be hosts', () => {
    expect(s3Target({ bucket: 'my-bucket', region: 'eu-west-1', forcePathStyle: false })).toEqual({
      secure: true,
      hostname: 'my-bucket.s3.eu-west-1.amazonaws.com',
      port: undefined,
      hostHeader: 'my-bucket.s3.eu-west-1.amazonaws.com',
      basePath: '',
    });
    expect(s3Target({ bucket: 'my.dotted.bucket', region: 'us-east-1', forcePathStyle: false })).toMatchObject({ hostname: 's3.us-east-1.amazonaws.com', basePath: '/my.dotted.bucket' });
    expect(s3Target({ bucket: 'b1', region: 'cn-north-1', forcePathStyle: false }).hostname).toBe('s3.cn-north-1.amazonaws.com.cn');
  });

  it('an endpoint: path style with its port (IPv6 too), or virtual-hosted when asked', () => {
    expect(s3Target({ bucket: 'bk', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true })).toEqual({
      secure: false,
      hostname: '127.0.0.1',
      port: 9000,
      hostHeader: '127.0.0.1:9000',
      basePath: '/bk',
    });
    expect(s3Target({ bucket: 'bk', endpoint: 'http://[::1]:9000/', region: 'us-east-1', forcePathStyle: true })).toMatchObject({ hostname: '::1', hostHeader: '[::1]:9000', basePath: '/bk' });
    expect(s3Target({ bucket: 'bkt', endpoint: 'https://minio.example:443', region: 'us-east-1', forcePathStyle: false })).toMatchObject({ hostname: 'bkt.minio.example', port: undefined, hostHeader: 'bkt.minio.example', basePath: '' });
  });

  it('keys are encoded as S3 signs them: every byte but unreserved ones, slashes kept in paths', () => {
    expect(encodeKey("a b+c/é!'()*~._-")).toBe('a%20b%2Bc%2F%C3%A9%21%27%28%29%2A~._-');
  });
});

describe('credentialSource', () => {
  const keys = { accessKeyId: 'AK', secretAccessKey: 'SK' };
  const never = async (): Promise<never> => {
    throw new Error('the chain must not be loaded');
  };

  it('options, then AWS_* variables: static, and the chain is never loaded', async () => {
    expect(await credentialSource(keys, 'us-east-1', { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }, never).get()).toEqual(keys);
    const env = credentialSource(undefined, 'us-east-1', { AWS_ACCESS_KEY_ID: 'EA', AWS_SECRET_ACCESS_KEY: 'ES', AWS_SESSION_TOKEN: 'ET' }, never);
    expect(env.kind).toBe('environment');
    expect(await env.get()).toEqual({ accessKeyId: 'EA', secretAccessKey: 'ES', sessionToken: 'ET' });
  });

  it('the chain: loaded once, its answer cached, fetched again near expiry or when invalidated', async () => {
    let loads = 0;
    const calls: (boolean | undefined)[] = [];
    let expiration = new Date(Date.now() + 60 * 60_000);
    const source = credentialSource(undefined, 'eu-west-1', { AWS_ACCESS_KEY_ID: 'only-half' }, async () => {
      loads++;
      return async (options?: { forceRefresh?: boolean }): Promise<S3Credentials> => {
        calls.push(options?.forceRefresh);
        return { ...keys, sessionToken: `t${calls.length}`, expiration };
      };
    });
    expect(source.kind).toBe('provider chain');
    const [a, b] = await Promise.all([source.get(), source.get()]); // concurrent callers share one call
    expect(a.sessionToken).toBe('t1');
    expect(b.sessionToken).toBe('t1');
    expect((await source.get()).sessionToken).toBe('t1');
    expiration = new Date(Date.now() + REFRESH_MARGIN_MS - 1000);
    source.invalidate();
    expect((await source.get()).sessionToken).toBe('t2'); // forced
    expect((await source.get()).sessionToken).toBe('t3'); // t2 expires within the margin
    expect(loads).toBe(1);
    expect(calls).toEqual([undefined, true, undefined]);
  });

  it('a chain that finds nothing fails each call, and is asked again next time', async () => {
    let n = 0;
    const source = credentialSource(undefined, 'us-east-1', {}, async () => async () => {
      n++;
      throw new Error('Could not load credentials from any providers');
    });
    await expect(source.get()).rejects.toThrow(/any providers/);
    await expect(source.get()).rejects.toThrow(/any providers/);
    expect(n).toBe(2);
  });
});

describe('S3 REST answers from a fake server', () => {
  let server: Server;
  let endpoint: string;
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;
  beforeAll(async () => {
    server = createServer((req, res) => void readText(req).then((body) => handler(req, res, body)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const xmlError = (res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/xml', ...headers });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m ${code}</Message></Error>`);
  };
  const open = (): S3Store =>
    new S3Store({ bucket: 'bk', endpoint, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });

  it('a clock 1 h off: RequestTimeTooSkewed is retried, signed with the server\'s time', async () => {
    const serverNow = Date.now() + 3600_000;
    const dates: string[] = [];
    handler = (req, res) => {
      const amzDate = String(req.headers['x-amz-date']);
      dates.push(amzDate);
      const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
      if (Math.abs(signedAt - serverNow) > 15 * 60_000) return xmlError(res, 403, 'RequestTimeTooSkewed', { date: new Date(serverNow).toUTCString() });
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    };
    const store = open();
    expect(Buffer.from(await store.get('k')).toString()).toBe('ok');
    expect(store.stats().get).toMatchObject({ requests: 2, retries: 1, errors: 0 });
    expect(dates).toHaveLength(2);
    await store.close();
  });

  it('errors without an XML body are named by their status; a wrong region is named', async () => {
    handler = (req, res) => {
      if (req.url?.includes('region')) return xmlError(res, 301, 'PermanentRedirect', { 'x-amz-bucket-region': 'eu-central-1' });
      res.writeHead(req.url?.includes('forbidden') ? 403 : 404, { 'content-type': 'text/html' });
      res.end('<html>nope</html>');
    };
    const store = open();
    await expectStoreError(store.get('missing'), 'NOT_FOUND');
    await expectStoreError(store.get('forbidden'), 'ACCESS_DENIED');
    const err = await expectStoreError(store.get('region'), 'IO');
    expect(err.message).toMatch(/PermanentRedirect.*in region eu-central-1, not us-east-1/);
    expect(store.stats().get.retries).toBe(0);
    await store.close();
  });

  it('an expired token from the chain: new credentials, and the request is retried', async () => {
    let served = 0;
    handler = (req, res) => {
      if (String(req.headers['x-amz-security-token']) === 'old') return xmlError(res, 400, 'ExpiredToken');
      served++;
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    };
    let n = 0;
    const credentials = credentialSource(undefined, 'us-east-1', {}, async () => async () => ({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: n++ === 0 ? 'old' : 'new' }));
    const http = new S3Http({ bucket: 'bk', endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxSockets: 2 });
    const first = await http.request({ method: 'GET', key: 'k', signal: new AbortController().signal }).catch((e: unknown) => e);
    expect((first as Error).name).toBe('TransientError'); // retryable by ./retry.ts
    expect(((first as Error).cause as S3ResponseError).name).toBe('ExpiredToken');
    const second = await http.request({ method: 'GET', key: 'k', signal: new AbortController().signal });
    second.resume();
    expect(served).toBe(1);
    http.destroy();
  });

  it('a listing cut short (no closing tag) is retried, never taken as a shorter one', async () => {
    let n = 0;
    handler = (_req, res) => {
      n++;
      const full = '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>1</Size></Contents></ListBucketResult>';
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(n === 1 ? full.slice(0, 100) : full);
    };
    const store = open();
    expect((await store.listPage('')).objects.map((o) => o.key)).toEqual(['a', 'b']);
    expect(store.stats().list).toMatchObject({ requests: 2, retries: 1 });
    await store.close();
  });
});
