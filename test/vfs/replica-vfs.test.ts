// ReplicaVfs and PageCache directly: page mapping of xRead, read-ahead, the cache
// budget, read-only refusals, the litestream_txid pragma. The source is the golden
// snapshot in memory behind a request-counting stand-in for the SyncStore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, registerVfs } from '../../src/engine/index.js';
import { buildPageIndex, planRestore, type PageIndex } from '../../src/replica/index.js';
import type { ByteRange } from '../../src/storage/object-store.js';
import {
  SQLITE_IOERR_SHORT_READ,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_READONLY,
} from '../../src/vfs/codes.js';
import { PageCache } from '../../src/vfs/page-cache.js';
import { READ_AHEAD_BYTES, ReplicaVfs, type PageSource } from '../../src/vfs/replica-vfs.js';
import { VfsError } from '../../src/vfs/vfs.js';
import { fileStore, golden, putLtx, removeTempDirs } from '../replica/helpers.js';

afterAll(removeTempDirs);

const SNAPSHOT_KEY = 'ltx/9/0000000000000001-0000000000000001.ltx';
const source = golden('sqlite/source.db'); // the database the snapshot was made from
const PAGE = 4096;

class CountingSource implements PageSource {
  requests: ByteRange[] = [];
  constructor(private readonly files: Map<string, Uint8Array>) {}
  getSync(key: string, range?: ByteRange): Uint8Array {
    const bytes = this.files.get(key)!;
    if (range === undefined || !('offset' in range)) throw new Error('the VFS reads offset ranges only');
    this.requests.push(range);
    return bytes.slice(range.offset, range.offset + range.length);
  }
}

let index: PageIndex;
let seq = 0;

beforeAll(async () => {
  const store = fileStore();
  await putLtx(store, 9, 1n, 1n, golden('sqlite/sqlite-snapshot.ltx'));
  index = await buildPageIndex(store, await planRestore(store));
  await store.close();
  expect(index.commit * PAGE).toBe(source.length);
});

function makeVfs(options: { cacheSize?: number; readAheadBytes?: number } = {}) {
  const src = new CountingSource(new Map([[SNAPSHOT_KEY, golden('sqlite/sqlite-snapshot.ltx')]]));
  const vfs = new ReplicaVfs({ name: `test-replica-${++seq}`, url: 'file:///golden', index, source: src, cacheSize: options.cacheSize ?? 1 << 20, readAheadBytes: options.readAheadBytes });
  return { vfs, src };
}

function openMain(vfs: ReplicaVfs) {
  return vfs.open('main.db', SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

describe('ReplicaVfs reads', () => {
  it('opens the main database read-only and reports its size', () => {
    const { vfs } = makeVfs();
    const { file, outFlags } = openMain(vfs);
    expect(outFlags & SQLITE_OPEN_READONLY).toBe(SQLITE_OPEN_READONLY);
    expect(outFlags & (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)).toBe(0);
    expect(file.fileSize()).toBe(source.length);
    file.close();
  });

  it('serves whole pages, the header and small reads inside a page, and reads across pages', () => {
    const { vfs } = makeVfs();
    const { file } = openMain(vfs);
    for (const [offset, length] of [
      [0, 100],
      [24, 4],
      [92, 8],
      [0, PAGE],
      [3 * PAGE, PAGE],
      [PAGE - 10, 30],
      [PAGE, 3 * PAGE],
    ]) {
      const buf = new Uint8Array(length);
      expect(file.read(buf, offset)).toBe(SQLITE_OK);
      expect(buf, `read ${length} at ${offset}`).toEqual(source.subarray(offset, offset + length));
    }
    file.close();
  });

  it('zero-fills past the end with SQLITE_IOERR_SHORT_READ', () => {
    const { vfs } = makeVfs();
    const { file } = openMain(vfs);
    const end = source.length;
    const buf = new Uint8Array(PAGE).fill(7);
    expect(file.read(buf, end)).toBe(SQLITE_IOERR_SHORT_READ);
    expect(buf.every((b) => b === 0)).toBe(true);
    const straddle = new Uint8Array(200).fill(7);
    expect(file.read(straddle, end - 100)).toBe(SQLITE_IOERR_SHORT_READ);
    expect(straddle.subarray(0, 100)).toEqual(source.subarray(end - 100));
    expect(straddle.subarray(100).every((b) => b === 0)).toBe(true);
    file.close();
  });

  it('fetches a page with the frames after it in one request, then serves them from the cache', () => {
    const { vfs, src } = makeVfs();
    const { file } = openMain(vfs);
    const buf = new Uint8Array(PAGE);
    file.read(buf, 0);
    expect(src.requests).toHaveLength(1);
    // The snapshot is ~5 KB: all 9 pages fit the read-ahead budget.
    expect(vfs.stats()).toMatchObject({ fetches: 1, fetchedPages: index.commit });
    for (let p = 1; p <= index.commit; p++) {
      file.read(buf, (p - 1) * PAGE);
      expect(buf).toEqual(source.subarray((p - 1) * PAGE, p * PAGE));
    }
    expect(src.requests).toHaveLength(1);
    expect(vfs.stats().cache).toMatchObject({ misses: 1, hits: index.commit });
    expect(READ_AHEAD_BYTES).toBe(256 * 1024);
    file.close();
  });

  it('bounds read-ahead by its byte budget (0: one page a request)', () => {
    const { vfs, src } = makeVfs({ readAheadBytes: 0 });
    const { file } = openMain(vfs);
    const buf = new Uint8Array(PAGE);
    for (let p = 1; p <= index.commit; p++) file.read(buf, (p - 1) * PAGE);
    expect(src.requests).toHaveLength(index.commit);
    for (let p = 1; p <= index.commit; p++) expect(src.requests[p - 1]).toEqual({ offset: index.lookup(p)!.offset, length: index.lookup(p)!.size });
    file.close();
  });

  it('keeps the cache within its budget, evicting the least recently used page', () => {
    const { vfs, src } = makeVfs({ cacheSize: 2 * PAGE, readAheadBytes: 0 });
    const { file } = openMain(vfs);
    const buf = new Uint8Array(PAGE);
    const read = (p: number) => file.read(buf, (p - 1) * PAGE);
    read(1);
    read(2);
    read(1); // 1 is now the most recent
    read(3); // evicts 2
    expect(vfs.stats().cache).toMatchObject({ pages: 2, bytes: 2 * PAGE, evictions: 1 });
    const before = src.requests.length;
    read(1);
    expect(src.requests.length).toBe(before);
    read(2);
    expect(src.requests.length).toBe(before + 1);
    file.close();
  });

  it('refuses writes and truncation with SQLITE_READONLY (a sync has nothing to do)', () => {
    const { vfs } = makeVfs();
    const { file } = openMain(vfs);
    expect(file.sync(2)).toBe(SQLITE_OK);
    for (const call of [() => file.write(new Uint8Array(PAGE), 0), () => file.truncate(0)]) {
      expect(call).toThrow(VfsError);
      try {
        call();
      } catch (e) {
        expect((e as VfsError).code).toBe(SQLITE_READONLY);
      }
    }
    file.close();
  });

  it('answers PRAGMA litestream_txid and refuses to set it', () => {
    const { vfs } = makeVfs();
    const { file } = openMain(vfs);
    expect(file.pragma!('litestream_txid', null)).toBe('1');
    expect(file.pragma!('page_size', null)).toBeUndefined();
    expect(() => file.pragma!('litestream_txid', '7')).toThrow(/read-only/);
    file.close();
  });

  it('serves a whole database through the engine, journals and temp files aside', () => {
    const { vfs, src } = makeVfs();
    registerVfs(vfs);
    const db = new Database('golden.db', { vfs: vfs.name, readOnly: true });
    try {
      expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 200 });
      // A sort too big for memory would use a temp file; force one with a tiny cache.
      db.exec('PRAGMA temp_store = FILE; PRAGMA cache_size = 2');
      const sorted = db.all('SELECT id FROM t ORDER BY name DESC, id LIMIT 3');
      expect(sorted).toEqual([{ id: 200 }, { id: 199 }, { id: 198 }]);
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(src.requests).toHaveLength(1);
    } finally {
      db.close();
    }
  });
});

describe('PageCache', () => {
  it('counts hits and misses and drops pages larger than the budget', () => {
    const cache = new PageCache(10);
    expect(cache.get(1)).toBeUndefined();
    cache.set(1, new Uint8Array(4));
    cache.set(2, new Uint8Array(4));
    expect(cache.get(1)).toHaveLength(4);
    cache.set(3, new Uint8Array(4)); // over 10: evicts 2, the least recently used
    expect(cache.has(2)).toBe(false);
    expect(cache.has(1)).toBe(true);
    cache.set(4, new Uint8Array(11));
    expect(cache.has(4)).toBe(false);
    cache.set(1, new Uint8Array(2)); // replacing adjusts the byte count
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, evictions: 1, pages: 2, bytes: 6, capacity: 10 });
    expect(() => new PageCache(-1)).toThrow(TypeError);
  });
});
