// The benches' network link, run as its own process (link.ts forks it): ONE hop in front of
// radosgw that holds each response's first byte `latencyMs` after it arrives from radosgw,
// paces responses per client connection, and records every request. Its CPU is its own,
// so it neither competes inside the bench process nor hides in the client's figures.
//
// Cheap on purpose (Node's http proxying cost 2.4-3.8 s CPU per GiB here; this 1-1.4 s):
// bytes are relayed raw, each client connection with its own radosgw connection, read
// into one reused 1 MiB buffer per connection (no allocation, no copy) and written in
// slices of about TICK_MS worth at the connection's pace; reading waits until the slices
// are out. http-framing.ts finds where requests and responses start and end, for the log.
// The pace (`due`) runs on from where it was, so late timers are caught up; at each new
// response it drops back to no earlier than `now - SLACK_MS`, which bounds an idle burst.
//
//   node --import tsx bench/support/link-server.ts <upstream> <latencyMs> <bandwidthBytesPerSec>
//   IPC in: { id, cmd: 'records' | 'clear' | 'cpu' }; out: { ready: endpoint } once, { id, result }.
import type http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { classify } from '../../test/support/fault-proxy.js';
import { MessageScanner, type Head } from './http-framing.js';
import { now, type RequestRecord } from './request-log.js';

export type LinkCommand = { id: number; cmd: 'records' | 'clear' | 'cpu' };
export interface LinkCpu {
  /** user + system CPU of the link process since it started, ms. */
  cpuMs: number;
  rssBytes: number;
  /** Reads from radosgw and writes to clients so far: the link's work items. */
  reads: number;
  writes: number;
}

const TICK_MS = 4; // responses go out in slices of about this many ms worth
const SLACK_MS = 2; // a new response may start this far ahead of the pace
const READ_BYTES = 2 ** 20;
const UPSTREAM_IDLE_MS = 4_000; // radosgw closes idle connections after 5 s: drop ours first

const [upstreamArg, latencyArg, bandwidthArg] = process.argv.slice(2);
const upstream = new URL(upstreamArg);
const latencyMs = Number(latencyArg);
const bandwidth = Number(bandwidthArg); // bytes/s; 0: unpaced
if (!upstreamArg || !(latencyMs >= 0) || !(bandwidth >= 0)) throw new Error(`usage: link-server.ts <upstream> <latencyMs> <bandwidthBytesPerSec> (got ${process.argv.slice(2).join(' ')})`);
const tickBytes = bandwidth > 0 ? (bandwidth * TICK_MS) / 1000 : Infinity;

let records: RequestRecord[] = [];
let reads = 0;
let writes = 0;
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** One client connection and the radosgw connection behind it. */
class Connection {
  private up: Socket | null = null;
  private readonly pending: RequestRecord[] = []; // requests sent upstream, not yet answered
  private readonly requests = new MessageScanner(false, () => undefined);
  private responses = this.newResponseScanner();
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);
  private due = 0; // when the bytes sent so far were due at the pace (performance.now() ms)
  private counting: RequestRecord | undefined; // the response whose body is being relayed

  constructor(private readonly client: Socket) {
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  private newResponseScanner(): MessageScanner {
    return new MessageScanner(true, () => this.pending[0]?.method);
  }

  private fromClient(chunk: Buffer): void {
    const at = now();
    try {
      this.requests.feed(chunk, {
        begin: () => undefined,
        head: (head) => {
          const rec = record(head, at);
          records.push(rec);
          this.pending.push(rec);
        },
        end: () => undefined,
      });
    } catch (err) {
      return this.fail(`unreadable request: ${(err as Error).message}`);
    }
    const up = this.upstream();
    if (!up.write(chunk)) {
      this.client.pause();
      up.once('drain', () => this.client.resume());
    }
  }

  private upstream(): Socket {
    if (this.up !== null) return this.up;
    const up: Socket = net.connect({
      host: upstream.hostname,
      port: Number(upstream.port),
      noDelay: true,
      onread: { buffer: this.buffer, callback: (n: number): boolean => this.fromUpstream(up, n) },
    });
    up.setTimeout(UPSTREAM_IDLE_MS, () => {
      if (this.pending.length === 0 && this.responses.idle) this.dropUpstream(up);
    });
    up.on('error', (err: Error) => (this.pending.length ? this.fail(`radosgw at ${upstream.host}: ${err.message}`) : this.dropUpstream(up)));
    up.on('end', () => {
      // Only after the last chunk was relayed (reading waits for it). A body delimited by
      // the connection's end is complete now; any other unanswered request is an error.
      if (this.responses.endsWithConnection) {
        if (this.counting) this.counting.end = now();
        this.pending.shift();
        return this.client.end();
      }
      if (this.pending.length) this.fail(`radosgw closed the connection with ${this.pending.length} request(s) unanswered`);
      else this.dropUpstream(up); // the next request opens another
    });
    this.up = up;
    this.responses = this.newResponseScanner();
    return up;
  }

  private dropUpstream(up: Socket): void {
    if (this.up === up) this.up = null;
    up.destroy();
  }

  /** Bytes from radosgw in `this.buffer`: relay them at pace, then read on. */
  private fromUpstream(up: Socket, n: number): boolean {
    const chunk = this.buffer.subarray(0, n);
    reads++;
    const arrived = performance.now();
    // Where in the chunk responses begin (their first byte waits for the latency), where
    // their bodies begin (bytes counted from there) and where they end.
    const marks: Mark[] = [];
    try {
      this.responses.feed(chunk, {
        begin: (at) => marks.push({ at, kind: 'begin' }),
        head: (head, at) => {
          const rec = this.pending[0];
          if (rec) rec.status = head.status;
          marks.push({ at, kind: 'body', rec });
        },
        end: (at) => marks.push({ at, kind: 'end', rec: this.pending.shift() }),
      });
    } catch (err) {
      this.fail(`unreadable response from radosgw: ${(err as Error).message}`);
      return false;
    }
    up.pause(); // the buffer is in use until every slice of it is written
    this.relay(chunk, marks, arrived).then(
      () => up.destroyed || up.resume(),
      () => this.close(),
    );
    return false;
  }

  private async relay(chunk: Buffer, marks: Mark[], arrived: number): Promise<void> {
    let pos = 0;
    for (const mark of marks) {
      await this.send(chunk, pos, mark.at);
      pos = mark.at;
      if (mark.kind === 'begin') {
        const wait = arrived + latencyMs - performance.now();
        if (wait >= 1) await sleep(wait);
        this.due = Math.max(this.due, performance.now() - SLACK_MS);
      } else if (mark.kind === 'body') {
        this.counting = mark.rec;
      } else {
        if (mark.rec) mark.rec.end = now();
        this.counting = undefined;
      }
    }
    await this.send(chunk, pos, chunk.length);
  }

  /** Write chunk[from, to) at the connection's pace; the response whose body it is counts the bytes. */
  private async send(chunk: Buffer, from: number, to: number): Promise<void> {
    while (from < to && !this.client.destroyed) {
      const t = performance.now();
      const want = Math.min(to - from, tickBytes);
      const allow = bandwidth > 0 ? ((t - this.due) * bandwidth) / 1000 : Infinity;
      if (allow < want) {
        await sleep(Math.max(1, this.due + (want * 1000) / bandwidth - t));
        continue;
      }
      const n = Math.min(to - from, Math.floor(allow));
      if (bandwidth > 0) this.due += (n * 1000) / bandwidth;
      if (this.counting) this.counting.bytes += n;
      const slice = chunk.subarray(from, from + n);
      from += n;
      writes++;
      await new Promise<void>((ok, fail) => this.client.write(slice, (err) => (err ? fail(err) : ok())));
    }
  }

  private fail(why: string): void {
    process.stderr.write(`[link] ${why}\n`);
    this.close();
  }

  private close(): void {
    this.client.destroy();
    this.up?.destroy();
    this.up = null;
  }
}

type Mark = { at: number; kind: 'begin' | 'body' | 'end'; rec?: RequestRecord };

function record(head: Head, at: number): RequestRecord {
  const range = head.headers.range ?? null;
  const op = classify({ method: head.method, url: head.path, headers: range === null ? {} : { range } } as unknown as http.IncomingMessage);
  return { op, method: head.method, path: head.path, range, status: 0, start: at, end: 0, bytes: 0 };
}

const server = net.createServer((socket) => new Connection(socket));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.on('message', (m: LinkCommand) => {
  let result: unknown = null;
  if (m.cmd === 'records') result = records;
  else if (m.cmd === 'clear') records = [];
  else if (m.cmd === 'cpu') {
    const u = process.cpuUsage();
    result = { cpuMs: (u.user + u.system) / 1000, rssBytes: process.memoryUsage.rss(), reads, writes } satisfies LinkCpu;
  }
  process.send?.({ id: m.id, result });
});
// The bench went away (or closed the link): leave nothing behind.
process.on('disconnect', () => process.exit(0));
