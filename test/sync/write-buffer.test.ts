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
  it('assigns TXIDs, serves the newest page, merges a batch newest-wins', () => {
    const b = fresh();
    expect(b.lastTXID).toBe(0n);
    expect(b.append({ pages: [[1, page(1)], [2, page(2)]], commit: 2, checksum: null })).toBe(1n);
    expect(b.append({ pages: [[2, page(22)], [3, page(3)]], commit: 3, checksum: null })).toBe(2n);
    expect(b.page(2)).toEqual(page(22));
    expect(b.page(4)).toBeUndefined();
    expect(b.commitSize).toBe(3);
    const batch = b.batch()!;
    expect([batch.minTXID, batch.maxTXID, batch.commit]).toEqual([1n, 2n, 3]);
    expect(batch.pages.get(2)).toEqual(page(22));
    expect(batch.postApplyChecksum).toBeNull();
    const first = b.batch(1n)!;
    expect([first.maxTXID, first.commit, first.pages.get(2)![0]]).toEqual([1n, 2, 2]);
    b.close();
  });

  it('a shrink then a regrow reads the cut-off pages as zeros, in the page reads and in the batch', () => {
    const b = fresh();
    b.append({ pages: [1, 2, 3, 4, 5].map((p) => [p, page(p)] as [number, Uint8Array]), commit: 5, checksum: null });
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

  it('markSynced drops the synced commits durably and keeps later ones', () => {
    const dir = tempDir('buf');
    const b = fresh(dir);
    for (let i = 1; i <= 5; i++) b.append({ pages: [[i, page(i)]], commit: 5, checksum: null });
    b.markSynced(3n, null, 5);
    expect(b.base!.txid).toBe(3n);
    expect(b.page(1)).toBeUndefined(); // now served by the remote
    expect(b.page(5)).toEqual(page(5));
    expect(b.unsynced()).toMatchObject({ commits: 2, fromTXID: 4n, toTXID: 5n });
    b.close();
    const again = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(again.base!.txid).toBe(3n);
    expect(again.lastTXID).toBe(5n);
    expect(again.batch()!.minTXID).toBe(4n);
    expect(again.page(4)).toEqual(page(4));
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
      expect(r.lastTXID).toBe(BigInt(expected));
      for (let t = 1; t <= expected; t++) expect(r.page(t)).toEqual(pageBytes(BigInt(t), t, PS));
      // and it appends cleanly after the cut
      expect(r.append({ pages: [[9, page(9)]], commit: 9, checksum: null })).toBe(BigInt(expected + 1));
      r.close();
    }
    // a flipped byte inside record 4: records 1..3 survive
    const bad = Buffer.from(whole);
    bad[ends[2] + 40] ^= 0xff;
    writeFileSync(log, bad);
    const r = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(r.lastTXID).toBe(3n);
    expect(statSync(log).size).toBe(ends[2]);
    r.close();
    // garbage appended after valid records is ignored
    appendFileSync(log, Buffer.from('garbage that is not a record'));
    const g = WriteBuffer.open(dir, { replicaUrl: URL_A, pageSize: PS, maxBytes: 1 << 20, log: quiet });
    expect(g.lastTXID).toBe(3n);
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
    expect((err as Error).message).toMatch(/3 commits \(TXIDs 1\.\.3\).*503 SlowDown/);
    expect(b.unsynced().oldestCommitMs).toBeTypeOf('number');
    expect(b.lastTXID).toBe(3n); // the refused commit left nothing behind
    b.markSynced(3n, null, 1);
    expect(b.append({ pages: [[1, page(4)]], commit: 1, checksum: null })).toBe(4n);
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
