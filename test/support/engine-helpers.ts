// Small helpers for engine tests.
import { expect } from 'vitest';
import { SqliteError } from '../../src/engine/sqlite-error.js';

let counter = 0;

/** A fresh path on the memory VFS: each test gets its own database. */
export function memoryPath(prefix = 'test'): string {
  return `/${prefix}-${process.pid}-${++counter}.db`;
}

/** Run `fn`, expect it to throw a SqliteError, and return it. */
export function sqliteErrorOf(fn: () => unknown): SqliteError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SqliteError);
    return e as SqliteError;
  }
  throw new Error('expected a SqliteError, nothing was thrown');
}
