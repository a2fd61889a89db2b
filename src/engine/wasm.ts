// Loads native/dist/sqlite3.{cjs,wasm} once per process. Every Database shares
// this one instance, so in-process lock tables and WAL shared memory see all
// connections. Compilation is synchronous (WASM_ASYNC_COMPILATION=0, ~1.3 MB).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Ptr = number;

/** The C functions native/src/exports.txt exports, with the types the glue gives them. */
export interface SqliteModule {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  jsvfsHost?: unknown;
  jsvfsFunctions?: unknown;
  _malloc(n: number): Ptr;
  _free(p: Ptr): void;
  _sqlite3_initialize(): number;
  _sqlite3_libversion(): Ptr;
  _sqlite3_sourceid(): Ptr;
  _sqlite3_open_v2(zFilename: Ptr, ppDb: Ptr, flags: number, zVfs: Ptr): number;
  _sqlite3_close_v2(db: Ptr): number;
  _sqlite3_extended_result_codes(db: Ptr, on: number): number;
  _sqlite3_errmsg(db: Ptr): Ptr;
  _sqlite3_errstr(rc: number): Ptr;
  _sqlite3_extended_errcode(db: Ptr): number;
  _sqlite3_exec(db: Ptr, zSql: Ptr, cb: Ptr, arg: Ptr, pzErr: Ptr): number;
  _sqlite3_prepare_v3(db: Ptr, zSql: Ptr, nByte: number, flags: number, ppStmt: Ptr, pzTail: Ptr): number;
  _sqlite3_step(stmt: Ptr): number;
  _sqlite3_reset(stmt: Ptr): number;
  _sqlite3_finalize(stmt: Ptr): number;
  _sqlite3_next_stmt(db: Ptr, stmt: Ptr): Ptr;
  _sqlite3_clear_bindings(stmt: Ptr): number;
  _sqlite3_bind_parameter_count(stmt: Ptr): number;
  _sqlite3_bind_parameter_name(stmt: Ptr, i: number): Ptr;
  _sqlite3_bind_int(stmt: Ptr, i: number, v: number): number;
  _sqlite3_bind_int64(stmt: Ptr, i: number, v: bigint): number;
  _sqlite3_bind_double(stmt: Ptr, i: number, v: number): number;
  _sqlite3_bind_text(stmt: Ptr, i: number, p: Ptr, n: number, destructor: number): number;
  _sqlite3_bind_blob(stmt: Ptr, i: number, p: Ptr, n: number, destructor: number): number;
  _sqlite3_bind_null(stmt: Ptr, i: number): number;
  _sqlite3_column_count(stmt: Ptr): number;
  _sqlite3_column_name(stmt: Ptr, i: number): Ptr;
  _sqlite3_column_table_name(stmt: Ptr, i: number): Ptr;
  _sqlite3_column_type(stmt: Ptr, i: number): number;
  _sqlite3_column_int64(stmt: Ptr, i: number): bigint;
  _sqlite3_column_double(stmt: Ptr, i: number): number;
  _sqlite3_column_text(stmt: Ptr, i: number): Ptr;
  _sqlite3_column_blob(stmt: Ptr, i: number): Ptr;
  _sqlite3_column_bytes(stmt: Ptr, i: number): number;
  _sqlite3_changes(db: Ptr): number;
  _sqlite3_last_insert_rowid(db: Ptr): bigint;
  _sqlite3_get_autocommit(db: Ptr): number;
  _sqlite3_busy_timeout(db: Ptr, ms: number): number;
  _sqlite3_file_control(db: Ptr, zDb: Ptr, op: number, arg: Ptr): number;
  _sqlite3_vfs_find(zName: Ptr): Ptr;
  _sqlite3_malloc(n: number): Ptr;
  _sqlite3_free(p: Ptr): void;
  _sqlite3_value_type(v: Ptr): number;
  _sqlite3_value_double(v: Ptr): number;
  _sqlite3_value_int64(v: Ptr): bigint;
  _sqlite3_value_text(v: Ptr): Ptr;
  _sqlite3_value_blob(v: Ptr): Ptr;
  _sqlite3_value_bytes(v: Ptr): number;
  _sqlite3_result_null(ctx: Ptr): void;
  _sqlite3_result_double(ctx: Ptr, v: number): void;
  _sqlite3_result_int64(ctx: Ptr, v: bigint): void;
  _sqlite3_result_text(ctx: Ptr, p: Ptr, n: number, destructor: number): void;
  _sqlite3_result_blob(ctx: Ptr, p: Ptr, n: number, destructor: number): void;
  _sqlite3_result_error(ctx: Ptr, p: Ptr, n: number): void;
  _jsvfs_register(zName: Ptr, id: number, makeDefault: number): number;
  _jsvfs_bind_int53(stmt: Ptr, i: number, v: number): number;
  _jsvfs_last_insert_rowid(db: Ptr): number;
  _jsvfs_heap_used(): number;
  _jsvfs_create_function(db: Ptr, zName: Ptr, nArg: number, flags: number, fnId: number): number;
}

/** The directory holding package.json, found by walking up from this module (src/ or dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'ltxvfs') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('ltxvfs: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let instance: SqliteModule | undefined;

/** The process's SQLite WASM instance, loaded on first use. */
export function sqliteModule(): SqliteModule {
  if (instance === undefined) {
    const require = createRequire(import.meta.url);
    const m = require(join(packageRoot(), 'native', 'dist', 'sqlite3.cjs')) as SqliteModule;
    if (typeof m._sqlite3_open_v2 !== 'function') throw new Error('ltxvfs: native/dist/sqlite3.cjs did not initialize');
    instance = m;
  }
  return instance;
}
