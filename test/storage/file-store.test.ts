import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/storage/file-store.js';
import { pattern } from './conformance.js';
import { describeObjectStore } from './store-suite.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-file-store-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describeObjectStore('file://', async () => new FileStore({ dir: await freshDir() }), { timestamp: 'mtime' });

describe('FileStore specifics', () => {
  it('maps keys to paths under the directory and leaves no temp files behind', async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    const key = 'ltx/0/0000000000000001-0000000000000001.ltx';
    await store.put(key, pattern(100));
    await store.putIfAbsent('ltx/0/0000000000000002-0000000000000002.ltx', pattern(100));
    await expect(store.putIfAbsent(key, pattern(5))).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((await stat(join(dir, key))).size).toBe(100);
    expect(await readdir(join(dir, '.ltxvfs-tmp'))).toEqual([]);
    expect(store.url).toBe(`file://${dir}`);
  });

  it('never lists its temp directory, even with a stray temp file in it', async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.put('a', pattern(1));
    await writeFile(join(dir, '.ltxvfs-tmp', 'stray.tmp'), 'partial');
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    expect(keys).toEqual(['a']);
  });

  it('rejects keys that would escape the directory', async () => {
    const store = new FileStore({ dir: await freshDir() });
    for (const key of ['', '../x', 'a/../../x', '/abs', 'a//b', '.ltxvfs-tmp/x']) {
      await expect(store.put(key, pattern(1)), key).rejects.toThrow(TypeError);
    }
  });
});
