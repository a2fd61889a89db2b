// The write buffer on its own: append, page reads, batches (newest wins, shrink and
// regrow), markSynced, recovery from torn and corrupt tails, back-pressure, set-aside.
import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferFullError, SecondWriterError, WriteBuffer } from '../../src/sync/index.js';
import { pageBytes, quiet, removeTempDirs, tempDir } from './helpers.js';

const PS = 512;
const URL_A = 'file:///tmp/replica-a';
const page = (fill: number) => new Uint8Array(PS).fill(fill);

function fresh(dir = tempDir('buf'), maxBytes = 1 << 20): WriteBuffer {
  const b = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes, log: quiet });
  if (!b.base) b.setBase({ txid: 0n, checksum: null, commit: 0, pageSize: PS });
  return b;
}

afterAll(removeTempDirs);

describe('WriteBuffer', () => {
  it('commits share the pending TXID until a batch freezes it; a batch is one TXID, merged newest-wins', () => {
    const b = fresh();
    expect(b.lastTXID).toBe(0n);
    expect(b.append({ pages: [[1, page(1)], [2, page(2)]], commit: 2, checksum: 7n | (1n << 63n) })).toBe(1n);
    expect(b.append({ pages: [[2, page(22)], [3, page(3)]], commit: 3, checksum: null })).toBe(1n);
    expect(b.page(2)).toEqual(page(22));
    expect(b.page(4)).toBeUndefined();
    expect(b.commitSize).toBe(3);
    const batch = b.batch()!;
    expect([batch.minTXID, batch.maxTXID, batch.commit]).toEqual([1n, 1n, 3]);
    expect(batch.pages.get(2)).toEqual(page(22));
    expect(batch.postApplyChecksum).toBeNull(); // the second commit's checksum is unknown
    // Frozen: the next commit starts TXID 2, and the batch for TXID 1 does not change.
    expect(b.append({ pages: [[2, page(99)]], commit: 3, checksum: null })).toBe(2n);
    expect(b.append({ pages: [[4, page(4)]], commit: 4, checksum: null })).toBe(2n);
    const again = b.batch()!;
    expect([again.maxTXID, again.commit, again.pages.get(2)![0], again.pages.has(4)]).toEqual([1n, 3, 22, false]);
    expect(b.unsynced()).toMatchObject({ commits: 4, fromTXID: 1n, toTXID: 2n });
    b.markSynced(1n, null, 3);
    const second = b.batch()!;
    expect([second.minTXID, second.maxTXID, second.commit, second.pages.get(2)![0], second.pages.get(4)![0]]).toEqual([2n, 2n, 4, 99, 4]);
    b.close();
  });

  it('a shrink and a regrow inside one TXID: the page written after the shrink is kept', () => {
    const b = fresh();
    b.append({ pages: [1, 2, 3].map((p) => [p, page(p)] as [number, Uint8Array]), commit: 3, checksum: null });
    b.append({ pages: [[1, page(11)]], commit: 1, checksum: null }); // shrink to 1, same TXID
    b.append({ pages: [[3, page(33)]], commit: 3, checksum: null }); // regrow, same TXID
    expect(b.lastTXID).toBe(1n);
    expect(b.page(2)).toEqual(page(0));
    expect(b.page(3)).toEqual(page(33));
    const batch = b.batch()!;
    expect([batch.pages.get(1)![0], batch.pages.get(2)![0], batch.pages.get(3)![0]]).toEqual([11, 0, 33]);
    b.close();
  });

  it('a shrink then a regrow reads the cut-off pages as zeros, in the page reads and in the batch', () => {
    const b = fresh();
    b.append({ pages: [1, 2, 3, 4, 5].map((p) => [p, page(p)] as [number, Uint8Array]), commit: 5, checksum: null });
    b.batch();
    b.markSynced(1n, null, 5);
    b.append({ pages: [[1, page(11)]], commit: 2, checksum: null }); // shrink to 2
    b.append({ pages: [[4, page(44)]], commit: 5, checksum: null }); // regrow, page 3 and 5 not rewritten
    expect(b.page(3)).toEqual(page(0));
    expect(b.page(4)).toEqual(page(44));
    const batch = b.batch()!;
    expect(batch.commit).toBe(5);
    expect([...batch.pages.keys()].sort()).toEqual([1, 3, 4, 5]);
    expect(batch.pages.get(3)).toEqual(page(0));
    expect(batch.pages.get(5)).toEqual(page(0));
    b.close();
  });

  it('markSynced drops the synced commits durably and keeps later ones; recovered commits are frozen', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    for (let i = 1; i <= 3; i++) b.append({ pages: [[i, page(i)]], commit: 5, checksum: null });
    b.batch(); // TXID 1 frozen: the next commits are TXID 2
    for (let i = 4; i <= 5; i++) expect(b.append({ pages: [[i, page(i)]], commit: 5, checksum: null })).toBe(2n);
    b.markSynced(1n, null, 5);
    expect(b.base!.txid).toBe(1n);
    expect(b.page(1)).toBeUndefined(); // now served by the remote
    expect(b.page(5)).toEqual(page(5));
    expect(b.unsynced()).toMatchObject({ commits: 2, fromTXID: 2n, toTXID: 2n });
    // The kept TXID is still this process's pending one: it takes more commits.
    expect(b.append({ pages: [[6, page(6)]], commit: 6, checksum: null })).toBe(2n);
    b.close();
    const again = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(again.base!.txid).toBe(1n);
    expect(again.lastTXID).toBe(2n);
    expect(again.unsynced().commits).toBe(3);
    const batch = again.batch()!;
    expect([batch.minTXID, batch.maxTXID, batch.commit]).toEqual([2n, 2n, 6]);
    expect(again.page(4)).toEqual(page(4));
    // Recovered: TXID 2 may be in an upload already, so a new commit starts TXID 3.
    expect(again.append({ pages: [[1, page(7)]], commit: 6, checksum: null })).toBe(3n);
    again.close();
  });

  it('recovers every whole record and cuts off a torn or corrupt tail at any byte', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    const ends: number[] = [];
    const log = path.join(dir, 'buffer.log');
    for (let t = 1n; t <= 6n; t++) {
      b.append({ pages: [[Number(t), pageBytes(t, Number(t), PS)]], commit: 6, checksum: null });
      ends.push(statSync(log).size);
    }
    b.close();
    const whole = readFileSync(log);
    const headerEnd = ends[0] - (ends[1] - ends[0]); // every record here is the same size
    for (let cut = headerEnd; cut <= whole.length; cut += 97) {
      writeFileSync(log, whole.subarray(0, cut));
      const r = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
      const expected = ends.filter((e) => e <= cut).length;
      expect(r.commits().length).toBe(expected);
      expect(r.lastTXID).toBe(expected > 0 ? 1n : 0n); // the six commits share TXID 1
      for (let t = 1; t <= expected; t++) expect(r.page(t)).toEqual(pageBytes(BigInt(t), t, PS));
      // and it appends cleanly after the cut, in a new TXID (recovered commits are frozen)
      expect(r.append({ pages: [[9, page(9)]], commit: 9, checksum: null })).toBe(expected > 0 ? 2n : 1n);
      r.close();
    }
    // a flipped byte inside record 4: records 1..3 survive
    const bad = Buffer.from(whole);
    bad[ends[2] + 40] ^= 0xff;
    writeFileSync(log, bad);
    const r = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(r.commits().length).toBe(3);
    expect(statSync(log).size).toBe(ends[2]);
    r.close();
    // garbage appended after valid records is ignored
    appendFileSync(log, Buffer.from('garbage that is not a record'));
    const g = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(g.commits().length).toBe(3);
    g.close();
  });

  it('throws BufferFullError past maxBytes, naming the unsynced commits and the last sync error', () => {
    const b = fresh(tempDir('buf'), 3 * (PS + 100));
    b.setSyncError(new Error('503 SlowDown from the store'));
    b.append({ pages: [[1, page(1)]], commit: 1, checksum: null });
    b.append({ pages: [[1, page(2)]], commit: 1, checksum: null });
    b.append({ pages: [[1, page(3)]], commit: 1, checksum: null });
    let err: unknown;
    try {
      b.append({ pages: [[1, page(4)]], commit: 1, checksum: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BufferFullError);
    expect((err as Error).message).toMatch(/3 commits \(TXIDs 1\.\.1\).*503 SlowDown/);
    expect(b.unsynced().oldestCommitMs).toBeTypeOf('number');
    expect(b.commits().length).toBe(3); // the refused commit left nothing behind
    b.batch();
    b.markSynced(1n, null, 1);
    expect(b.append({ pages: [[1, page(4)]], commit: 1, checksum: null })).toBe(2n);
    b.close();
  });

  it('refuses appends once fenced, and a second opener of the same directory', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    expect(() => WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet })).toThrow(/already open/);
    b.append({ pages: [[1, page(1)]], commit: 1, checksum: null });
    b.fence(new SecondWriterError({ key: '0000/x.ltx', storeUrl: URL_A, kept: { fromTXID: 1n, toTXID: 1n }, bufferDir: dir }));
    expect(() => b.append({ pages: [[1, page(2)]], commit: 1, checksum: null })).toThrow(SecondWriterError);
    expect(b.lastTXID).toBe(1n);
    b.close();
  });

  it('sets a buffer for another replica aside on open, and setAside keeps the log and a reason', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    b.append({ pages: [[1, page(1)]], commit: 1, checksum: null });
    b.close();
    const other = WriteBuffer.open(dir, { replicaUrl: 'file:///tmp/replica-b', pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(other.base).toBeNull();
    expect(other.setAsideOnOpen).not.toBeNull();
    const aside = other.setAsideOnOpen!.dir;
    expect(existsSync(path.join(aside, 'buffer.log'))).toBe(true);
    expect(readFileSync(path.join(aside, 'REASON.txt'), 'utf8')).toMatch(/replica-a.*replica-b[\s\S]*TXIDs 1\.\.1/);
    other.close();
  });

  it('a log cut inside the BASE record starts over as a new buffer', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    b.close();
    truncateSync(path.join(dir, 'buffer.log'), 10);
    const r = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(r.base).toBeNull();
    r.close();
  });
});
