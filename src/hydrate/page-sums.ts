// The database checksum of a build without a second pass over the file: each page's
// checksum is taken while its frame is decoded (Crc64.updatePage, the same pass as
// the file CRC) and kept per page with the file that wrote it. At the end a slot
// counts only if that file is still the page's winner; pages written by an earlier,
// interrupted run (resumed from the journal) or by a file that lost the page later
// are read back from the temp file and summed there.
import type { FileHandle } from 'node:fs/promises';
import { DatabaseChecksum, lockPage } from '../ltx/index.js';
import { checksumPages } from './apply.js';
import type { FileMeta } from './file-meta.js';
import type { Winners } from './winners.js';

export class PageSums {
  #sums = new BigUint64Array(0);
  #writer = new Int32Array(0); // per page: id of the file whose bytes are in the slot, 0 = none
  readonly #ids = new Map<string, number>();
  readonly #byMeta = new WeakMap<FileMeta, number>();

  /** Page `pgno` of `meta` was written with checksum `sum`. */
  set(meta: FileMeta, pgno: number, sum: bigint): void {
    if (pgno >= this.#sums.length) this.grow(pgno + 1);
    this.#sums[pgno] = sum;
    this.#writer[pgno] = this.idOf(meta);
  }

  /** The database checksum of pages 1..commit as `winners` place them in `fh`. */
  async value(fh: FileHandle, metas: readonly FileMeta[], winners: Winners): Promise<bigint> {
    const { commit, pageSize: ps, winner } = winners;
    const lock = lockPage(ps);
    const sum = new DatabaseChecksum();
    const ids = metas.map((m) => this.idOf(m));
    const unsummed: number[] = [];
    for (let p = 1; p <= commit; p++) {
      if (p === lock) continue;
      if (p < this.#writer.length && winner[p] >= 0 && this.#writer[p] === ids[winner[p]]) sum.toggle(this.#sums[p]);
      else unsummed.push(p);
    }
    // The rest is read back from the file.
    if (unsummed.length > 0) sum.toggle(await checksumPages(fh, ps, commit, unsummed));
    return sum.value();
  }

  private idOf(meta: FileMeta): number {
    let id = this.#byMeta.get(meta); // called per page: no string per call
    if (id !== undefined) return id;
    const key = `${meta.file.key}|${meta.file.size}|${meta.fileChecksum}`;
    id = this.#ids.get(key);
    if (id === undefined) this.#ids.set(key, (id = this.#ids.size + 1));
    this.#byMeta.set(meta, id);
    return id;
  }

  private grow(n: number): void {
    const size = Math.max(n, this.#sums.length * 2);
    const sums = new BigUint64Array(size);
    sums.set(this.#sums);
    const writer = new Int32Array(size);
    writer.set(this.#writer);
    this.#sums = sums;
    this.#writer = writer;
  }
}
