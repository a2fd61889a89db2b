// Pull-style reading over a byte source (a whole buffer or an async stream of
// chunks, such as an object-store GET body): header first, then one page at a
// time. Used by the compactor's k-way merge and by anything that streams files.

import { LtxError } from './errors.js';
import type { LtxHeader } from './header.js';
import { type DecodedPage, LtxDecoder, type LtxSummary } from './decoder.js';

export type LtxSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export class LtxReader {
  private readonly decoder = new LtxDecoder();
  private readonly queue: DecodedPage[] = [];
  private readonly chunks: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private ended: LtxSummary | undefined;

  constructor(source: LtxSource) {
    if (source instanceof Uint8Array) {
      this.chunks = [source][Symbol.iterator]();
    } else if (Symbol.asyncIterator in source) {
      this.chunks = source[Symbol.asyncIterator]();
    } else {
      this.chunks = source[Symbol.iterator]();
    }
  }

  // Feed one more chunk; false once the source is exhausted (and verified).
  private async pump(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.chunks.next();
    if (r.done) {
      this.ended = this.decoder.end();
      return false;
    }
    this.queue.push(...this.decoder.write(r.value));
    return true;
  }

  async readHeader(): Promise<LtxHeader> {
    while (!this.decoder.header) {
      if (!(await this.pump())) break;
    }
    if (!this.decoder.header) throw new LtxError('LTX_TRUNCATED', 'read: file ends inside the header');
    return this.decoder.header;
  }

  /** The next page, or null once the file is done and its checksum verified. */
  async nextPage(): Promise<DecodedPage | null> {
    while (this.queue.length === 0) {
      if (!(await this.pump())) return null;
    }
    return this.queue.shift()!;
  }

  /** The summary of a fully read file (after nextPage() returned null or finish()). */
  summary(): LtxSummary {
    if (!this.ended) throw new LtxError('LTX_STATE', 'read: summary() before the file was read to its end');
    return this.ended;
  }

  /** Read to the end (verifying the file checksum) and return the summary. */
  async finish(): Promise<LtxSummary> {
    while (await this.pump()) this.queue.length = 0;
    return this.ended!;
  }
}
