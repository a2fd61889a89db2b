// Just enough HTTP/1.1 framing for the bench link (link-server.ts) to relay raw bytes and
// still know where each request and response starts and ends: message heads, then bodies
// by Content-Length, chunked encoding, or none. It never copies a body byte.

export interface Head {
  /** Request: method; response: '' */
  method: string;
  /** Request: target; response: '' */
  path: string;
  /** Response: status; request: 0 */
  status: number;
  headers: Record<string, string>;
}

export type Body = { kind: 'none' } | { kind: 'length'; n: number } | { kind: 'chunked' } | { kind: 'close' };

const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

export function parseHead(raw: string, isResponse: boolean): Head {
  const lines = raw.split('\r\n');
  const first = lines[0].split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return isResponse ? { method: '', path: '', status: Number(first[1]), headers } : { method: first[0], path: first[1] ?? '/', status: 0, headers };
}

/** How the body after `head` is delimited; `requestMethod` is the request's, for a response. */
export function bodyOf(head: Head, requestMethod?: string): Body {
  if (requestMethod !== undefined && (requestMethod === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304)) return { kind: 'none' };
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return { kind: 'chunked' };
  const cl = head.headers['content-length'];
  if (cl !== undefined) return Number(cl) > 0 ? { kind: 'length', n: Number(cl) } : { kind: 'none' };
  return requestMethod === undefined ? { kind: 'none' } : { kind: 'close' };
}

export interface ScanEvents {
  /** A message's first byte is at `at`. */
  begin(at: number): void;
  /** Its head ends (its body starts) at `at`. */
  head(head: Head, at: number): void;
  /** The message ends at `at` (not called for 1xx interim responses). */
  end(at: number): void;
}

/** A stream of HTTP messages, fed chunk by chunk; reports, in order, where each begins, where its head ends and where it ends. */
export class MessageScanner {
  private acc: Buffer = Buffer.alloc(0); // the head read so far
  private body: Body | null = null; // null: reading a head
  private left = 0; // bytes left in a 'length' body or in the current chunk's data (+2 for its CRLF)
  private chunkState: 'size' | 'data' | 'trailer' = 'size';
  private line = '';

  constructor(
    private readonly isResponse: boolean,
    /** For a response head: the method of the request it answers (HEAD has no body). */
    private readonly methodOf: () => string | undefined,
  ) {}

  feed(chunk: Buffer, on: ScanEvents): void {
    let pos = 0;
    const onEnd = on.end;
    while (pos < chunk.length) {
      if (this.body === null) {
        if (this.acc.length === 0) on.begin(pos);
        const piece = chunk.subarray(pos, Math.min(chunk.length, pos + 8192));
        const old = this.acc.length;
        this.acc = old === 0 ? piece : Buffer.concat([this.acc, piece]);
        const i = this.acc.indexOf(CRLF2, Math.max(0, old - 3));
        if (i < 0) {
          if (this.acc.length > MAX_HEAD) throw new Error(`HTTP head longer than ${MAX_HEAD} bytes`);
          if (old === 0) this.acc = Buffer.from(piece); // `piece` is a view of a reused buffer
          pos += piece.length;
          continue;
        }
        pos += i + 4 - old;
        const head = parseHead(this.acc.toString('latin1', 0, i), this.isResponse);
        this.acc = Buffer.alloc(0);
        const method = this.isResponse ? this.methodOf() : undefined;
        this.body = bodyOf(head, this.isResponse ? (method ?? 'GET') : undefined);
        on.head(head, pos);
        if (this.body.kind === 'length') this.left = this.body.n;
        if (this.body.kind === 'chunked') (this.chunkState = 'size'), (this.line = '');
        if (this.body.kind === 'none') this.finish(pos, onEnd, head.status);
        continue;
      }
      if (this.body.kind === 'close') return; // ends with the connection
      if (this.body.kind === 'length') {
        const n = Math.min(this.left, chunk.length - pos);
        pos += n;
        this.left -= n;
        if (this.left === 0) this.finish(pos, onEnd);
        continue;
      }
      pos = this.chunked(chunk, pos, onEnd);
    }
  }

  /** Between messages. */
  get idle(): boolean {
    return this.body === null && this.acc.length === 0;
  }

  /** In a body that the connection's end delimits. */
  get endsWithConnection(): boolean {
    return this.body?.kind === 'close';
  }

  private finish(at: number, onEnd: (at: number) => void, status?: number): void {
    this.body = null;
    // 1xx: an interim response; the final one to the same request follows.
    if (status === undefined || status >= 200 || !this.isResponse) onEnd(at);
  }

  private chunked(chunk: Buffer, pos: number, onEnd: (at: number) => void): number {
    if (this.chunkState === 'data') {
      const n = Math.min(this.left, chunk.length - pos);
      this.left -= n;
      if (this.left === 0) this.chunkState = 'size';
      return pos + n;
    }
    const nl = chunk.indexOf(10, pos);
    const end = nl < 0 ? chunk.length : nl + 1;
    this.line += chunk.toString('latin1', pos, end);
    if (nl < 0) return end;
    const line = this.line.trim();
    this.line = '';
    if (this.chunkState === 'size') {
      const size = parseInt(line.split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
      if (size === 0) this.chunkState = 'trailer';
      else (this.chunkState = 'data'), (this.left = size + 2); // the data, then its CRLF
    } else if (line === '') {
      this.finish(end, onEnd);
    }
    return end;
  }
}
