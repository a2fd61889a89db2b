// A fault-injecting HTTP proxy for S3 traffic, for tests and benchmarks.
// It listens on 127.0.0.1 and forwards each request unchanged (Host header included,
// so SigV4 signatures made for the proxy's address still verify upstream) to one
// upstream endpoint. Settable at run time (`set`):
// - latencyMs: every response's first byte is held back this long (S3 Standard ~20 ms);
// - bandwidthBytesPerSec: response bodies are paced per client connection (S3 ~100 MiB/s);
// - errorRate: answer 503 SlowDown without asking upstream;
// - resetRate: TCP reset, half of them before forwarding, half after upstream answered
//   (the request took effect, the client never hears of it);
// - truncateRate: GET bodies cut at a random point (Content-Length kept, connection closed).
// - ignoreIfNoneMatch: a PUT with `If-None-Match: *` that upstream refuses (412) is
//   answered 200, as a server that ignores the header (older MinIO, some gateways)
//   answers it; the object itself is not replaced.
// Faults are drawn from a seeded PRNG, so a run's sequence of decisions is repeatable;
// `injectNext` forces a fault on the next matching request. Requests are counted by operation.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { prng } from './prng.js';

export type S3Op = 'LIST' | 'GET' | 'GET_RANGE' | 'HEAD' | 'PUT' | 'DELETE' | 'OTHER';
export type FaultKind = 'error503' | 'resetBefore' | 'resetAfter' | 'truncate';

export interface FaultOptions {
  latencyMs: number;
  /** 0: unlimited. */
  bandwidthBytesPerSec: number;
  errorRate: number;
  resetRate: number;
  truncateRate: number;
  /** Random faults only for these operations (default: all). */
  ops: readonly S3Op[] | null;
  seed: number;
  ignoreIfNoneMatch: boolean;
}

export interface FaultProxyStats {
  requests: Record<S3Op, number>;
  faults: Record<FaultKind, number>;
  /** Response body bytes sent to clients. */
  bytesOut: number;
  /** Most requests being handled at the same time. */
  maxInFlight: number;
}

const OPS: readonly S3Op[] = ['LIST', 'GET', 'GET_RANGE', 'HEAD', 'PUT', 'DELETE', 'OTHER'];
const KINDS: readonly FaultKind[] = ['error503', 'resetBefore', 'resetAfter', 'truncate'];
const DEFAULTS: FaultOptions = { latencyMs: 0, bandwidthBytesPerSec: 0, errorRate: 0, resetRate: 0, truncateRate: 0, ops: null, seed: 1, ignoreIfNoneMatch: false };
const PACE_CHUNK = 16 * 1024; // bytes written per pacing step: smooth at 1 MiB/s and up
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection']);

/** The S3 operation of a path-style request. */
export function classify(req: http.IncomingMessage): S3Op {
  const url = new URL(req.url ?? '/', 'http://x');
  const isBucket = url.pathname.replace(/^\/+|\/+$/g, '').split('/').length <= 1;
  switch (req.method) {
    case 'GET':
      if (isBucket) return url.searchParams.has('uploads') ? 'OTHER' : 'LIST';
      return req.headers.range ? 'GET_RANGE' : 'GET';
    case 'HEAD':
      return 'HEAD';
    case 'PUT':
      return 'PUT';
    case 'DELETE':
      return 'DELETE';
    case 'POST':
      return url.searchParams.has('delete') ? 'DELETE' : 'OTHER';
    default:
      return 'OTHER';
  }
}


const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

export class FaultProxy {
  readonly endpoint: string;
  private options: FaultOptions;
  private random: () => number;
  private counts!: FaultProxyStats;
  private inFlight = 0;
  private readonly forced: { kind: FaultKind; op?: S3Op }[] = [];
  private readonly paceAt = new WeakMap<Socket, number>(); // per connection: when its last byte is due

  private constructor(
    private readonly server: http.Server,
    private readonly upstream: URL,
    private readonly agent: http.Agent,
    options: FaultOptions,
  ) {
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.options = options;
    this.random = prng(options.seed);
    this.resetStats();
  }

  static async start(upstream: string, options: Partial<FaultOptions> & { port?: number } = {}): Promise<FaultProxy> {
    const { port = 0, ...faults } = options;
    // No connection trouble of its own: clients' idle sockets are kept a minute (Node's
    // default, 5 s, can close one just as a client reuses it: a reset nobody injected),
    // and idle upstream sockets are dropped after 4 s, before radosgw's 5 s keep-alive.
    const server = http.createServer({ keepAliveTimeout: 60_000 });
    const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', ok);
    });
    const proxy = new FaultProxy(server, new URL(upstream), agent, { ...DEFAULTS, ...faults });
    server.on('connection', (socket: Socket) => socket.on('error', () => undefined)); // resets are the point here
    server.on('request', (req, res) => {
      proxy.inFlight++;
      proxy.counts.maxInFlight = Math.max(proxy.counts.maxInFlight, proxy.inFlight);
      let done = false;
      // 'finish' (all written) can come before the client has the last byte; 'close' later.
      const end = (): void => void (done || ((done = true), proxy.inFlight--));
      res.once('finish', end);
      res.once('close', end);
      void proxy.handle(req, res);
    });
    return proxy;
  }

  /** Change options at run time; a new `seed` restarts the dice. */
  set(options: Partial<FaultOptions>): void {
    this.options = { ...this.options, ...options };
    if (options.seed !== undefined) this.random = prng(options.seed);
  }

  /** Force `kind` on the next request (of operation `op`, if given), before any dice. */
  injectNext(kind: FaultKind, op?: S3Op): void {
    this.forced.push({ kind, op });
  }

  stats(): FaultProxyStats {
    return { ...this.counts, requests: { ...this.counts.requests }, faults: { ...this.counts.faults } };
  }

  resetStats(): void {
    this.counts = {
      requests: Object.fromEntries(OPS.map((op) => [op, 0])) as Record<S3Op, number>,
      faults: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
      bytesOut: 0,
      maxInFlight: 0,
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
    this.agent.destroy();
  }

  private decide(op: S3Op): FaultKind | null {
    const i = this.forced.findIndex((f) => f.op === undefined || f.op === op);
    if (i >= 0) return this.forced.splice(i, 1)[0].kind;
    const { errorRate, resetRate, truncateRate, ops } = this.options;
    if (errorRate + resetRate + truncateRate === 0 || (ops !== null && !ops.includes(op))) return null;
    const r = this.random();
    if (r < errorRate) return 'error503';
    if (r < errorRate + resetRate) return this.random() < 0.5 ? 'resetBefore' : 'resetAfter';
    if (r < errorRate + resetRate + truncateRate && (op === 'GET' || op === 'GET_RANGE')) return 'truncate';
    return null;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const op = classify(req);
    this.counts.requests[op]++;
    const fault = this.decide(op);
    const socket = req.socket;
    if (fault === 'resetBefore') return this.reset(socket, fault);
    if (fault === 'error503') {
      this.counts.faults.error503++;
      req.resume();
      await new Promise((ok) => req.once('end', ok));
      await sleep(this.options.latencyMs);
      const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate. (fault-proxy)</Message></Error>';
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    const upstreamReq = http.request({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
    });
    upstreamReq.on('error', () => socket.destroy());
    req.pipe(upstreamReq);
    const up = await new Promise<http.IncomingMessage | null>((ok) => {
      upstreamReq.once('response', ok);
      upstreamReq.once('error', () => ok(null));
    });
    if (up === null) return;
    if (fault === 'resetAfter') {
      up.resume();
      return this.reset(socket, fault);
    }
    await sleep(this.options.latencyMs);
    if (this.options.ignoreIfNoneMatch && req.method === 'PUT' && req.headers['if-none-match'] !== undefined && up.statusCode === 412) {
      up.resume();
      res.writeHead(200, { etag: '"00000000000000000000000000000000"', 'content-length': 0 });
      res.end();
      return;
    }
    const length = Number(up.headers['content-length'] ?? NaN);
    const cut = fault === 'truncate' && req.method === 'GET' && length > 0 ? Math.floor(this.random() * length) : -1;
    res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders.filter((_, i, a) => !HOP_BY_HOP.has(a[i - (i % 2)].toLowerCase())));
    await this.forward(up, res, socket, cut);
    if (cut >= 0) {
      this.counts.faults.truncate++;
      up.destroy();
      socket.end(); // FIN after the bytes sent so far: the body is short of its Content-Length
      socket.destroySoon();
    } else {
      res.end();
    }
  }

  /** Copy the body, paced per connection; stop after `limit` bytes if limit >= 0. */
  private async forward(src: Readable, res: http.ServerResponse, socket: Socket, limit: number): Promise<void> {
    let sent = 0;
    for await (const data of src) {
      let chunk = data as Buffer;
      if (limit >= 0) chunk = chunk.subarray(0, limit - sent);
      for (let i = 0; i < chunk.length; i += PACE_CHUNK) {
        const piece = chunk.subarray(i, i + PACE_CHUNK);
        const bw = this.options.bandwidthBytesPerSec;
        if (bw > 0) {
          // The schedule runs on from the last piece's due time (not from now), so timers
          // firing a little late do not add up: restarting from now after every 16 KiB
          // piece delivered ~9 MB/s when asked for 100 MiB/s. 2 ms of slack bounds bursts.
          const t = performance.now();
          const due = Math.max(t - 2, this.paceAt.get(socket) ?? 0) + (piece.length * 1000) / bw;
          this.paceAt.set(socket, due);
          if (due - t >= 1) await sleep(due - t);
        }
        if (socket.destroyed) return;
        this.counts.bytesOut += piece.length;
        sent += piece.length;
        if (!res.write(piece)) await new Promise((ok) => res.once('drain', ok));
      }
      if (limit >= 0 && sent >= limit) return;
    }
  }

  private reset(socket: Socket, kind: FaultKind): void {
    this.counts.faults[kind]++;
    socket.resetAndDestroy();
  }
}
