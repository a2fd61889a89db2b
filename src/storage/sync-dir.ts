// fsync a directory, so that a rename, link or unlink in it survives a crash.
import { closeSync, fsyncSync, openSync } from 'node:fs';

// What file systems that cannot fsync a directory answer; the entry change itself is done.
const REFUSED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF']);

/** Synchronous; throws for real failures (EIO, ENOENT, ...), not for a file system that refuses. */
export function syncDirSync(dir: string): void {
  if (process.platform === 'win32') return; // a directory cannot be opened as a file there
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    closeSync(fd);
  }
}
