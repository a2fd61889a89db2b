// One process per buffer directory, decided atomically by the file system.
// Node has no flock/fcntl, so the lock is a numbered file `LOCK.<n>` holding its
// owner's pid, made complete in a temp file and then hard-linked into place (link(2)
// fails if the name exists: exactly one of any number of racers creates a given n).
// To take over from a dead (or released) owner of LOCK.n, a process links LOCK.<n+1>;
// afterwards it must still be the highest, or it lost to someone newer. The highest
// lock file is never removed (a release rewrites it to `released`, atomically by
// rename), so a process with a stale view that recreates a lower, removed number
// always sees the higher one and backs off. Older numbers are removed by the winner.
// Before: `existsSync` then `writeFileSync` let 2 of many racers win 13 times in 20.
import { closeSync, linkSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openPrivate } from '../private-fs.js';

const NAME = /^LOCK\.(\d{1,15})$/;
const RELEASED = 'released';
// Races lost to a newer number before giving up (each loss means someone else got it,
// so more than a few only happen when many processes start at once and keep dying).
const MAX_ATTEMPTS = 50;

export class DirLockError extends Error {
  readonly code = 'LOCK_HELD';
  constructor(
    message: string,
    readonly pid: number | null,
  ) {
    super(message);
    this.name = 'DirLockError';
  }
}

export class DirLock {
  private constructor(
    readonly dir: string,
    private readonly gen: number,
    private readonly token: string,
    private held = true,
  ) {}

  /** Take the lock of `dir` (which must exist), or throw DirLockError naming the live owner. */
  static acquire(dir: string): DirLock {
    const token = `${process.pid} ${randomBytes(8).toString('hex')}`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const top = highest(dir);
      if (top !== null) {
        const owner = readOwner(dir, top);
        if (owner !== null && owner !== RELEASED) {
          const pid = Number(owner.split(' ')[0]);
          if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
            const path = join(dir, `LOCK.${top}`);
            throw new DirLockError(`write buffer ${dir} is in use by process ${pid}; only one writer may use a buffer (stop it, or remove ${path} if that process is not ours)`, pid);
          }
        } else if (owner === null) {
          continue; // removed under us: look again
        }
      }
      const gen = (top ?? 0) + 1;
      if (!linkNew(dir, gen, token)) continue; // someone else made that number first
      if (highest(dir) !== gen || readOwner(dir, gen) !== token) {
        release(dir, gen, token, true); // a newer number exists: it won
        continue;
      }
      for (const n of numbers(dir)) if (n < gen) rmSync(join(dir, `LOCK.${n}`), { force: true });
      return new DirLock(dir, gen, token);
    }
    throw new DirLockError(`write buffer ${dir}: could not take its lock after ${MAX_ATTEMPTS} attempts (many processes racing for it?)`, null);
  }

  /** The lock file's name, for messages. */
  get path(): string {
    return join(this.dir, `LOCK.${this.gen}`);
  }

  /** Mark the lock released (a later opener in this or another process takes over at once). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    release(this.dir, this.gen, this.token, false);
  }
}

function numbers(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = NAME.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

function highest(dir: string): number | null {
  const ns = numbers(dir);
  return ns.length === 0 ? null : Math.max(...ns);
}

function readOwner(dir: string, gen: number): string | null {
  try {
    return readFileSync(join(dir, `LOCK.${gen}`), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Write `content` to a fresh temp file and link it to LOCK.<gen>; false if that name exists. */
function linkNew(dir: string, gen: number, content: string): boolean {
  const tmp = join(dir, `LOCK.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  writeNew(tmp, content);
  try {
    linkSync(tmp, join(dir, `LOCK.${gen}`));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function writeNew(path: string, content: string): void {
  const fd = openPrivate(path, 'create');
  try {
    writeSync(fd, `${content}\n`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace LOCK.<gen>'s content by `released` (rename: atomic) if it is still ours. A
 * lost race (`lost`) may remove its file instead when it is not the highest.
 */
function release(dir: string, gen: number, token: string, lost: boolean): void {
  const path = join(dir, `LOCK.${gen}`);
  if (readOwner(dir, gen) !== token) return;
  if (lost && highest(dir) !== gen) {
    rmSync(path, { force: true });
    return;
  }
  const tmp = join(dir, `LOCK.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  writeNew(tmp, RELEASED);
  renameSync(tmp, path);
}

function alive(pid: number): boolean {
  // Our own pid in a lock file is an earlier life's (a container's pid 1 restarted):
  // a second open in this process is refused before the lock is asked (WriteBuffer).
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
