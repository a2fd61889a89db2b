// Local state that only this user can read or change: the write buffer (unsynced
// commits) and the hydrated copy (the whole database). Directories are created 0700
// and a directory we did not create is used only if it is ours and nobody else can
// write to it (another local user could otherwise pre-create it, read our files or
// swap them). Files are created 0600 with O_EXCL (never through a planted symlink or
// onto someone's file) and opened with O_NOFOLLOW. See docs/security.md.
import { constants, fstatSync, lstatSync, mkdirSync, openSync, statfsSync, statSync } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = constants;
// Windows has no O_NOFOLLOW (and no symlink attack of this kind without privileges).
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** open(2) flags: `create` makes a new file (fails if anything is there, symlink included); the others refuse a symlink. */
export const FLAGS = {
  create: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW,
  read: O_RDONLY | O_NOFOLLOW,
  readWrite: O_RDWR | O_NOFOLLOW,
  append: O_WRONLY | O_APPEND | O_NOFOLLOW,
} as const;

export type PrivateOpen = keyof typeof FLAGS;

/** A file descriptor on `path` (mode 0600 when created). */
export function openPrivate(path: string, how: PrivateOpen): number {
  return openSync(path, FLAGS[how], PRIVATE_FILE_MODE);
}

/** As openPrivate, for node:fs/promises users. */
export function openPrivateAsync(path: string, how: PrivateOpen): Promise<FileHandle> {
  return openAsync(path, FLAGS[how], PRIVATE_FILE_MODE);
}

/**
 * Create `dir` (and missing parents) 0700, or check that an existing one is safe:
 * a directory (a symlink to one is followed only if we own the link), owned by this
 * user, not writable by others. `variable` is what the user sets to choose another
 * place; the error names it. No-op where there are no uids (Windows).
 */
export function ensurePrivateDir(dir: string, variable: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    // e.g. HOME=/ for a service user: the default cannot be made, say what to set.
    throw new Error(`cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set ${variable} to a directory of your own (mode 0700)`, { cause: err });
  }
  checkPrivateDir(dir, variable);
}

export function checkPrivateDir(dir: string, variable: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const fix = `set ${variable} to a directory of your own (mode 0700)`;
  const link = lstatSync(dir);
  if (link.isSymbolicLink() && link.uid !== uid) {
    throw new Error(`${dir} is a symlink owned by uid ${link.uid}, not by this user (uid ${uid}): refusing to keep local state through it; ${fix}`);
  }
  const st = link.isSymbolicLink() ? statSync(dir) : link;
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory; ${fix}`);
  if (st.uid !== uid) {
    throw new Error(`${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}): another user could read or replace its files; ${fix}`);
  }
  if ((st.mode & 0o002) !== 0) {
    throw new Error(`${dir} is writable by other users (mode ${(st.mode & 0o7777).toString(8)}): they could replace its files; ${fix}`);
  }
}

/** A descriptor's file must be ours (a file we open that someone else made is not trusted). */
export function checkOwnFile(fd: number, path: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const st = fstatSync(fd);
  if (st.uid !== uid) throw new Error(`${path} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing to use it`);
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
}

// statfs f_type of file systems whose contents are gone at reboot.
const VOLATILE_FS: Record<number, string> = { 0x01021994: 'tmpfs', 0x858458f6: 'ramfs' };

/** `tmpfs`/`ramfs` when `dir` is on memory-backed storage (lost at reboot), else null. */
export function volatileFs(dir: string): string | null {
  try {
    return VOLATILE_FS[statfsSync(dir).type] ?? null;
  } catch {
    return null; // statfs missing (old Node) or refused: nothing to warn about
  }
}
