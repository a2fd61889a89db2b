// ObjectStore on a local directory (`file:///dir`), the embedded default.
// A key `a/b/c` is the file `<dir>/a/b/c`. Writes go to a temp file in `<dir>/.ltxvfs-tmp/`
// (same file system), are fsynced, then renamed into place (put) or hard-linked into place
// (putIfAbsent: link() fails with EEXIST if the key exists, so of N concurrent creators
// exactly one wins), so a reader never sees a partial file.
// `litestream-timestamp` becomes the file's mtime (as Litestream's own file replica does)
// and so comes back as `lastModified`. Other metadata is kept in a sidecar under
// `<dir>/.ltxvfs-meta/`, named by the key and the file's inode: the sidecar is written
// before the file is renamed or linked into place, so a reader never sees the file
// without it, and a losing putIfAbsent cannot overwrite the winner's. Litestream never
// looks there.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareKeys, listAll, type ByteRange, type ObjectBytes, type ListOptions, type ListPage, type ObjectHead, type ObjectInfo, type ObjectStore, type ObjectStream, type PutBody, type PutOptions } from './object-store.js';
import { StatsCounter, type StoreStats } from './stats.js';
import { StoreError, type StoreOp } from './store-error.js';

const TMP_DIR = '.ltxvfs-tmp'; // reserved: never listed, not a valid first key segment
const META_DIR = '.ltxvfs-meta'; // reserved likewise: metadata sidecars
const KEPT_IN_MTIME = 'litestream-timestamp';
const MAX_KEYS = 1000; // page size, as S3
const STREAM_CHUNK = 256 << 10; // getStream's read size

export class FileStore implements ObjectStore {
  readonly url: string;
  private readonly dir: string;
  private readonly counters = new StatsCounter();
  private closed = false;

  constructor(options: { dir: string }) {
    this.dir = resolve(options.dir);
    this.url = pathToFileURL(this.dir).href;
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.run('list', prefix, async () => {
      const maxKeys = Math.min(options.maxKeys ?? MAX_KEYS, MAX_KEYS);
      const objects: ObjectInfo[] = [];
      for await (const info of this.walk('', prefix, options.startAfter)) {
        if (objects.length === maxKeys) return { objects, isTruncated: true };
        objects.push(info);
      }
      return { objects, isTruncated: false };
    });
  }

  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix, options);
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<Uint8Array> {
    return (await this.getWithMetadata(key, options)).bytes;
  }

  async getWithMetadata(key: string, options: { range?: ByteRange } = {}): Promise<ObjectBytes> {
    const path = this.path(key);
    return this.run('get', key, async () => {
      const file = await open(path, 'r');
      try {
        const st = await file.stat();
        const { start, end } = span(key, st.size, options.range);
        const bytes = new Uint8Array(end - start);
        for (let done = 0; done < bytes.length; ) {
          const { bytesRead } = await file.read(bytes, done, bytes.length - done, start + done);
          if (bytesRead === 0) throw new StoreError('IO', 'get', key, `file shrank while reading (${done} of ${bytes.length} bytes)`);
          done += bytesRead;
        }
        this.counters.add('get', 'bytes', bytes.length);
        return { bytes, metadata: await this.readMeta(key, st.ino) };
      } finally {
        await file.close();
      }
    });
  }

  async getStream(key: string, options: { range?: ByteRange } = {}): Promise<ObjectStream> {
    const path = this.path(key);
    const { range } = options;
    if (range && ('suffix' in range ? range.suffix : range.length) === 0) return { length: 0, metadata: {}, body: noChunks() };
    const { file, start, end, metadata } = await this.run('get', key, async () => {
      const file = await open(path, 'r');
      try {
        const st = await file.stat();
        return { file, metadata: await this.readMeta(key, st.ino), ...span(key, st.size, options.range) };
      } catch (err) {
        await file.close();
        throw err;
      }
    });
    const counters = this.counters;
    const url = this.url;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      // One buffer, reused for every chunk (the ObjectStream contract allows it).
      const buf = new Uint8Array(Math.min(STREAM_CHUNK, end - start));
      try {
        for (let at = start; at < end; ) {
          const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, end - at), at);
          if (bytesRead === 0) throw new StoreError('IO', 'get', key, `${url}: file shrank while reading (${at - start} of ${end - start} bytes)`);
          at += bytesRead;
          counters.add('get', 'bytes', bytesRead);
          yield buf.subarray(0, bytesRead);
        }
      } catch (err) {
        counters.add('get', 'errors');
        if (err instanceof StoreError) throw err;
        throw new StoreError('IO', 'get', key, (err as Error).message, { cause: err });
      } finally {
        await file.close();
      }
    }
    return { length: end - start, metadata, body: chunks() };
  }

  async head(key: string): Promise<ObjectHead | null> {
    const path = this.path(key);
    return this.run('head', key, async () => {
      const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
        throw err;
      });
      if (st === null || !st.isFile()) return null;
      // No content hash kept: inode, size and mtime change whenever the file is replaced.
      const etag = `${st.ino.toString(16)}-${st.size.toString(16)}-${Math.round(st.mtimeMs).toString(16)}`;
      return { size: st.size, etag, lastModified: st.mtime, metadata: await this.readMeta(key, st.ino) };
    });
  }

  put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    return this.write(key, body, options, false);
  }

  putIfAbsent(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    return this.write(key, body, options, true);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const path = this.path(key);
      await this.run('delete', key, async () => {
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
        });
        await this.dropMeta(key);
      });
    }
  }

  stats(): StoreStats {
    return this.counters.snapshot();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async write(key: string, body: PutBody, options: PutOptions, ifAbsent: boolean): Promise<void> {
    const path = this.path(key);
    await this.run('put', key, async () => {
      const tmpDir = join(this.dir, TMP_DIR);
      await mkdir(tmpDir, { recursive: true });
      const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
      try {
        const size = await writeDurably(tmp, body);
        const stamp = options.metadata?.[KEPT_IN_MTIME];
        const time = stamp === undefined ? NaN : Date.parse(stamp);
        if (!Number.isNaN(time)) await utimes(tmp, new Date(time), new Date(time));
        const ino = (await stat(tmp)).ino;
        const kept = Object.entries(options.metadata ?? {}).filter(([k]) => k !== KEPT_IN_MTIME);
        if (kept.length > 0) await this.writeMeta(key, ino, Object.fromEntries(kept.map(([k, v]) => [k.toLowerCase(), v])));
        await mkdir(dirname(path), { recursive: true });
        if (ifAbsent) {
          await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'EEXIST') {
              if (kept.length > 0) void unlink(this.metaPath(key, ino)).catch(() => undefined); // ours, not the winner's
              throw new StoreError('PRECONDITION_FAILED', 'put', key, `already exists in ${this.url}`);
            }
            throw err;
          });
        } else {
          await rename(tmp, path);
        }
        await syncDir(dirname(path));
        if (!ifAbsent) await this.dropMeta(key, ino); // the replaced file's sidecar
        this.counters.add('put', 'bytes', size);
      } finally {
        await unlink(tmp).catch(() => undefined); // after link() it is a second name; after rename() gone
      }
    });
  }

  /** Files under `relDir` (`''` or ending in `/`) in byte order, skipping subtrees that cannot match. */
  private async *walk(relDir: string, prefix: string, startAfter: string | undefined): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.dir, relDir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    // A directory `a` holds the keys `a/...`, so it sorts as `a/` among its siblings.
    const items = entries
      .filter((e) => !(relDir === '' && (e.name === TMP_DIR || e.name === META_DIR)))
      .map((e) => ({ key: relDir + e.name + (e.isDirectory() ? '/' : ''), isDir: e.isDirectory(), isFile: e.isFile() }))
      .sort((a, b) => compareKeys(a.key, b.key));
    for (const item of items) {
      if (item.isDir) {
        if (!item.key.startsWith(prefix) && !prefix.startsWith(item.key)) continue;
        if (startAfter !== undefined && compareKeys(item.key, startAfter) <= 0 && !startAfter.startsWith(item.key)) continue;
        yield* this.walk(item.key, prefix, startAfter);
      } else if (item.isFile && item.key.startsWith(prefix) && (startAfter === undefined || compareKeys(item.key, startAfter) > 0)) {
        const st = await stat(join(this.dir, item.key)).catch(() => null); // deleted meanwhile: skip
        if (st) yield { key: item.key, size: st.size, lastModified: st.mtime };
      }
    }
  }

  private path(key: string): string {
    const parts = key.split('/');
    if (key === '' || key.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..') || parts[0] === TMP_DIR || parts[0] === META_DIR) {
      throw new TypeError(`FileStore: invalid key ${JSON.stringify(key)} (needs non-empty segments, no . or .., not under ${TMP_DIR}/ or ${META_DIR}/)`);
    }
    return join(this.dir, ...parts);
  }

  /** Sidecar of the file `key` with inode `ino`: `.ltxvfs-meta/<key>#<ino>`. */
  private metaPath(key: string, ino: number): string {
    return this.metaPrefix(key) + ino.toString(16);
  }

  /** What every sidecar of `key` starts with: `.ltxvfs-meta/<key>#`. */
  private metaPrefix(key: string): string {
    return `${join(this.dir, META_DIR, ...key.split('/'))}#`;
  }

  private async readMeta(key: string, ino: number): Promise<Record<string, string>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.metaPath(key, ino), 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
      return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      if (err instanceof SyntaxError) return {}; // a torn sidecar: as if none
      throw err;
    }
  }

  private async writeMeta(key: string, ino: number, metadata: Record<string, string>): Promise<void> {
    const path = this.metaPath(key, ino);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(metadata), { flush: true });
    await rename(tmp, path);
  }

  /** Remove the sidecars of `key`, except the one of inode `keep`. */
  private async dropMeta(key: string, keep?: number): Promise<void> {
    const dir = dirname(this.metaPrefix(key));
    const prefix = basename(this.metaPrefix(key));
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(prefix) || (keep !== undefined && name === prefix + keep.toString(16))) continue;
      await unlink(join(dir, name)).catch(() => undefined);
    }
  }

  private async run<T>(op: StoreOp, key: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('CLOSED', op, key, `store ${this.url} is closed`);
    this.counters.add(op, 'requests');
    try {
      return await fn();
    } catch (err) {
      this.counters.add(op, 'errors');
      if (err instanceof StoreError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new StoreError('NOT_FOUND', op, key, `no such key in ${this.url}`, { cause: err });
      if (code === 'EACCES' || code === 'EPERM') throw new StoreError('ACCESS_DENIED', op, key, `access denied in ${this.url}: ${(err as Error).message}`, { cause: err });
      throw new StoreError('IO', op, key, (err as Error).message, { cause: err });
    }
  }
}

// eslint-disable-next-line require-yield
async function* noChunks(): AsyncGenerator<Uint8Array> {
  return;
}

/** The bytes [start, end) of a `size`-byte object that `range` asks for. */
function span(key: string, size: number, range: ByteRange | undefined): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  if ('suffix' in range) return { start: Math.max(0, size - range.suffix), end: size };
  if (range.length === 0) return { start: 0, end: 0 };
  if (range.offset >= size) throw new StoreError('RANGE_NOT_SATISFIABLE', 'get', key, `range starts at ${range.offset}, past the end of ${size} bytes`);
  return { start: range.offset, end: Math.min(size, range.offset + range.length) };
}

/** Write the whole body to a new file and fsync it; returns its size. */
async function writeDurably(path: string, body: PutBody): Promise<number> {
  const file = await open(path, 'wx');
  try {
    if (body instanceof Uint8Array) await file.writeFile(body);
    else for await (const chunk of body.open()) await file.write(chunk as Uint8Array);
    await file.sync();
    return (await file.stat()).size;
  } finally {
    await file.close();
  }
}

/** fsync a directory so a rename or link in it survives a crash. */
async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
