// Numbers for leak checks and diagnostics.
import { cString } from './heap.js';
import { facade } from './vfs-facade.js';
import { sqliteModule } from './wasm.js';

/** SQLite's version string, e.g. '3.53.2'. */
export function sqliteVersion(): string {
  return cString(sqliteModule()._sqlite3_libversion());
}

export interface EngineStats {
  /** Bytes malloc'd in the WASM heap now (SQLite, WAL shared memory, scratch). */
  heapUsed: number;
  /** Size of the WASM linear memory; it only grows. */
  heapSize: number;
  /** Files open through registered VFSes. */
  openFiles: number;
}

export function engineStats(): EngineStats {
  const m = sqliteModule();
  return { heapUsed: m._jsvfs_heap_used() >>> 0, heapSize: m.HEAPU8.length, openFiles: facade.openFileCount() };
}
