// A pass-through HTTP proxy that records every request it forwards (when it arrived,
// when the last response byte left, how many bytes), for benchmarks that count round
// trips. Put it in front of the FaultProxy so the records include the injected latency.
// Times are absolute (performance.timeOrigin + now(), ms), comparable with a child
// process's own timestamps.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { classify, type S3Op } from '../../test/support/fault-proxy.js';

export interface RequestRecord {
  op: S3Op;
  method: string;
  path: string;
  range: string | null;
  status: number;
  /** When the request arrived (absolute ms). */
  start: number;
  /** When the last response byte was written (absolute ms). */
  end: number;
  /** Response body bytes. */
  bytes: number;
}

const PACE_CHUNK = 64 * 1024;
const PACE_SLACK_MS = 2;
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

export const now = (): number => performance.timeOrigin + performance.now();

export class RequestLog {
  readonly endpoint: string;
  private list: RequestRecord[] = [];
  private readonly paceAt = new WeakMap<Socket, number>(); // per client connection: when its last byte is due

  private constructor(
    private readonly server: http.Server,
    private readonly agent: http.Agent,
  ) {
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(upstream: string, options: { bandwidthBytesPerSec?: number } = {}): Promise<RequestLog> {
    const bandwidth = options.bandwidthBytesPerSec ?? 0;
    const up = new URL(upstream);
    const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
    const server = http.createServer({ keepAliveTimeout: 60_000 });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', ok);
    });
    const log = new RequestLog(server, agent);
    server.on('connection', (s) => s.on('error', () => undefined));
    server.on('request', (req, res) => {
      const rec: RequestRecord = {
        op: classify(req),
        method: req.method ?? '?',
        path: req.url ?? '/',
        range: typeof req.headers.range === 'string' ? req.headers.range : null,
        status: 0,
        start: now(),
        end: 0,
        bytes: 0,
      };
      log.list.push(rec);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([n]) => n !== 'connection' && n !== 'keep-alive'));
      const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
        rec.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, Object.fromEntries(Object.entries(upRes.headers).filter(([n]) => n !== 'connection' && n !== 'keep-alive')));
        res.once('finish', () => (rec.end = now()));
        void log.forward(upRes, res, req.socket, bandwidth, rec);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    return log;
  }

  private async forward(src: Readable, res: http.ServerResponse, socket: Socket, bandwidth: number, rec: RequestRecord): Promise<void> {
    try {
      for await (const data of src) {
        const chunk = data as Buffer;
        for (let i = 0; i < chunk.length; i += PACE_CHUNK) {
          const piece = chunk.subarray(i, i + PACE_CHUNK);
          if (bandwidth > 0) {
            const t = performance.now();
            // From the previous piece's due time, not from now: late timers do not slow the stream;
            // an idle connection may burst PACE_SLACK_MS worth of bytes.
            const due = Math.max(t - PACE_SLACK_MS, this.paceAt.get(socket) ?? 0) + (piece.length * 1000) / bandwidth;
            this.paceAt.set(socket, due);
            if (due - t >= 1) await sleep(due - t);
          }
          if (socket.destroyed) return;
          rec.bytes += piece.length;
          if (!res.write(piece)) await new Promise((ok) => res.once('drain', ok));
        }
      }
      res.end();
    } catch {
      res.destroy();
    }
  }

  /** Records so far (finished or not), in arrival order. */
  records(): RequestRecord[] {
    return [...this.list];
  }

  clear(): void {
    this.list = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
    this.agent.destroy();
  }
}

/**
 * Sequential round trips: the longest chain of requests in which each one started only
 * after the previous one had finished (requests that overlap count once, as one wave).
 */
export function sequentialRoundTrips(records: readonly RequestRecord[]): number {
  const rs = [...records].filter((r) => r.end > 0).sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  let best = 0;
  for (let i = 0; i < rs.length; i++) {
    let d = 1;
    for (let j = 0; j < i; j++) if (rs[j].end <= rs[i].start) d = Math.max(d, depth[j] + 1);
    depth.push(d);
    best = Math.max(best, d);
  }
  return best;
}

/** Requests and response bytes per operation, and in all. */
export function summarize(records: readonly RequestRecord[]): { requests: number; bytes: number; byOp: Partial<Record<S3Op, { requests: number; bytes: number }>> } {
  const byOp: Partial<Record<S3Op, { requests: number; bytes: number }>> = {};
  for (const r of records) {
    const o = (byOp[r.op] ??= { requests: 0, bytes: 0 });
    o.requests++;
    o.bytes += r.bytes;
  }
  return { requests: records.length, bytes: records.reduce((s, r) => s + r.bytes, 0), byOp };
}
