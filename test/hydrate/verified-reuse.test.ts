// A hydrated file is reused only if its bytes match the replica's database checksum,
// not on its sidecar's word: a same-size change on disk (one byte of one page) makes
// the next hydrate() rebuild it, in the function the hydration worker runs, and an
// open() with hydration serves the replica's data, not the changed byte.
import { closeSync, lstatSync, openSync, readFileSync, renameSync, symlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrate } from '../../src/hydrate/index.js';
import { open } from '../../src/open.js';
import { fileUrl, makeStore, removeTempDirs, tempDir } from '../replica/helpers.js';
import { FileStore } from '../../src/storage/file-store.js';
import { makeReplica, restored } from './helpers.js';

afterAll(removeTempDirs);

/** Overwrite one byte at `offset` in place (the size stays). */
function poke(file: string, offset: number, value: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Uint8Array.of(value), 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describe('verified reuse', () => {
  it('hydrate(): a same-size local change is found by the database checksum and the file rebuilt', async () => {
    const dir = tempDir('reuse');
    const store = makeStore('file');
    const { pageSize } = await makeReplica(store, dir, { bytes: 1 << 20, steps: 3, checksums: true });
    const out = path.join(dir, 'h.db');
    expect((await hydrate({ store, path: out })).stats!.mode).toBe('built');
    expect((await hydrate({ store, path: out })).stats!.mode).toBe('reused'); // untouched: reused
    const at = 40 * pageSize + 1000;
    const was = readFileSync(out)[at];
    poke(out, at, was ^ 0xff);
    const again = await hydrate({ store, path: out });
    expect(again.stats!.mode).toBe('built');
    expect(readFileSync(out)[at]).toBe(was);
    expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
    await store.close();
  });

  it('hydrate(): a hydrated file swapped for a symlink is not read through; it is rebuilt as a regular file', async () => {
    const dir = tempDir('reuse-link');
    const store = makeStore('file');
    await makeReplica(store, dir, { bytes: 256 << 10, steps: 2, checksums: true });
    const out = path.join(dir, 'h.db');
    await hydrate({ store, path: out });
    const elsewhere = path.join(dir, 'elsewhere.db');
    renameSync(out, elsewhere);
    symlinkSync(elsewhere, out);
    const again = await hydrate({ store, path: out });
    expect(again.stats!.mode).toBe('built');
    expect(lstatSync(out).isSymbolicLink()).toBe(false);
    expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
    await store.close();
  });

  it('open() with hydration: the changed copy is rebuilt before reads switch to it', async () => {
    const dir = tempDir('reuse-open');
    const replicaDir = path.join(dir, 'replica');
    const store = new FileStore({ dir: replicaDir });
    await makeReplica(store, dir, { bytes: 1 << 20, steps: 2, checksums: true });
    const want = await restored(store, dir);
    await store.close();
    const local = path.join(dir, 'local', 'h.db');
    const first = await open({ replicaUrl: fileUrl(replicaDir), hydrationPath: local, logLevel: 'silent' });
    await first.hydrated();
    await first.close();
    // Change the last row's page in place: same size, same sidecar.
    const at = want.length - 100;
    poke(local, at, want[at] ^ 0x55);
    const second = await open({ replicaUrl: fileUrl(replicaDir), hydrationPath: local, logLevel: 'silent' });
    await second.hydrated();
    expect(second.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await second.close();
    expect(Buffer.compare(readFileSync(local), want)).toBe(0);
  });
});
