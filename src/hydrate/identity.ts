// Is the replica still the one a hydrated file came from? The sidecar records the
// LTX file whose maxTXID is the file's TXID (key, size, file checksum). Checks, in
// order of strength:
// 1. that file is still listed: same size and the same file checksum (its last 16
//    bytes) ⇒ same replica. The checksum covers the header (timestamps included) and
//    every page, so another database at the same URL cannot match by accident.
// 2. it was compacted away, and the sidecar has a database checksum (checksummed
//    chains): a file starting at TXID+1 must carry it as its pre-apply checksum.
// 3. otherwise (Litestream's NoChecksum files): a content check. Pages whose newest
//    version in the latest plan comes from a file ending at or before our TXID have
//    not changed since; up to 8 of them, spread over the file, must equal the local
//    pages. Limits: it proves little for a database whose pages all changed since
//    (then there is nothing to compare and the file is rebuilt), and a replica that
//    was replaced by a copy of the same data with new history would pass, which is
//    harmless since the pages agree.
// A replica whose latest TXID is below ours went backwards (replaced): different.
// With 1 and 2 the verdict also carries the replica's database checksum at the file's
// TXID (the recorded file's post-apply checksum, or the next file's pre-apply one),
// which the caller checks the local file against before reusing it: the sidecar
// vouches for the replica, not for the bytes beside it.
import { openPrivateAsync } from '../private-fs.js';
import { HEADER_SIZE, decodeHeader, decodePageFrame, hasChecksums } from '../ltx/index.js';
import { parseRecord, postWithRecord, withRecord } from '../replica/checksum-record.js';
import { choosePlan } from '../replica/plan.js';
import type { LtxFileInfo } from '../replica/listing.js';
import { mapLimit } from '../replica/pool.js';
import { fetchFileMeta } from './file-meta.js';
import type { Fetcher } from './fetcher.js';
import type { Sidecar } from './sidecar.js';
import { computeWinners } from './winners.js';

const SAMPLE_PAGES = 8;

export interface IdentityVerdict {
  same: boolean;
  how: string;
  /** The replica's database checksum at the sidecar's TXID, when its files carry one. */
  checksum?: bigint | null;
}

export async function checkIdentity(fetcher: Fetcher, side: Sidecar, listing: readonly LtxFileInfo[], localPath: string): Promise<IdentityVerdict> {
  const latest = listing.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
  if (latest < side.txid) return { same: false, how: `the replica's latest TXID ${latest} is below the file's ${side.txid} (replaced or rolled back)` };
  const own = listing.find((f) => f.key === side.identity.key);
  if (own) {
    if (own.size !== side.identity.size) return { same: false, how: `${own.key} is ${own.size} bytes, the sidecar recorded ${side.identity.size}` };
    // The trailer: post-apply database checksum (0 in NoChecksum files), then the file checksum.
    const { tail, record } = await fetcher.get(own.key, { suffix: 16 }, (b, metadata) => {
      if (b.length !== 16) throw new Error(`got ${b.length} bytes of the trailer`);
      return { tail: b, record: parseRecord(metadata) };
    });
    const v = new DataView(tail.buffer, tail.byteOffset, 16);
    const post = postWithRecord(v.getBigUint64(0), record);
    if (v.getBigUint64(8) !== side.identity.fileChecksum) return { same: false, how: `${own.key} has another file checksum` };
    return { same: true, how: `file checksum of ${own.key}`, checksum: post === 0n ? null : post };
  }
  if (side.checksum !== null) {
    const next = listing.find((f) => f.minTXID === side.txid + 1n);
    if (next) {
      const h = await fetcher.get(next.key, { offset: 0, length: HEADER_SIZE }, (b, metadata) => withRecord(decodeHeader(b), parseRecord(metadata)));
      if (hasChecksums(h)) {
        return h.preApplyChecksum === side.checksum
          ? { same: true, how: `pre-apply checksum of ${next.key}`, checksum: h.preApplyChecksum }
          : { same: false, how: `${next.key} continues from another database checksum` };
      }
    }
  }
  return contentCheck(fetcher, side, listing, localPath);
}

async function contentCheck(fetcher: Fetcher, side: Sidecar, listing: readonly LtxFileInfo[], localPath: string): Promise<IdentityVerdict> {
  const plan = choosePlan(fetcher.url, listing);
  const metas = await mapLimit(plan.files, 16, (f) => fetchFileMeta(fetcher, f));
  if (metas.some((m) => m.header.pageSize !== side.pageSize)) return { same: false, how: `the replica's page size differs from the file's ${side.pageSize}` };
  const w = computeWinners(metas);
  const stable: number[] = [];
  const upTo = Math.min(w.commit, side.commit);
  for (let p = 1; p <= upTo; p++) if (w.winner[p] >= 0 && metas[w.winner[p]].file.maxTXID <= side.txid) stable.push(p);
  if (stable.length === 0) return { same: false, how: 'no page is unchanged since the file was made, so nothing can be compared' };
  const picks = [...new Set(Array.from({ length: Math.min(SAMPLE_PAGES, stable.length) }, (_, i) => stable[Math.floor((i * stable.length) / Math.min(SAMPLE_PAGES, stable.length))]))];
  const fh = await openPrivateAsync(localPath, 'read');
  try {
    for (const pgno of picks) {
      const m = metas[w.winner[pgno]];
      const e = m.entries.find((x) => x.pgno === pgno)!;
      const remote = await fetcher.get(m.file.key, { offset: e.offset, length: e.size }, (b) => decodePageFrame(b, side.pageSize, pgno).data);
      const local = new Uint8Array(side.pageSize);
      await fh.read(local, 0, side.pageSize, (pgno - 1) * side.pageSize);
      if (Buffer.compare(local, remote) !== 0) return { same: false, how: `page ${pgno} differs from ${m.file.key}` };
    }
  } finally {
    await fh.close();
  }
  return { same: true, how: `${picks.length} unchanged pages equal the replica's` };
}
