// User-defined scalar functions: jsvfs.c registers one C trampoline per
// function and calls back here with the function's id.
import { SQLITE_OK } from '../vfs/codes.js';
import { i32At, mallocUtf8, scratchBytes, scratchBytesOf, scratchUtf8 } from './heap.js';
import { SqliteError } from './sqlite-error.js';
import { SQLITE_TRANSIENT, sqliteValue, type BindValue, type SqlValue } from './values.js';
import { sqliteModule } from './wasm.js';

const m = sqliteModule();
const SQLITE_DETERMINISTIC = 0x800;

type ScalarFunction = (...args: SqlValue[]) => BindValue | undefined;

const table: (ScalarFunction | undefined)[] = [];
const freeIds: number[] = [];

function setResult(ctx: number, v: unknown): void {
  switch (typeof v) {
    case 'number':
      if (Number.isSafeInteger(v)) m._sqlite3_result_int64(ctx, BigInt(v));
      else m._sqlite3_result_double(ctx, v);
      return;
    case 'bigint':
      m._sqlite3_result_int64(ctx, BigInt.asIntN(64, v));
      return;
    case 'boolean':
      m._sqlite3_result_int64(ctx, v ? 1n : 0n);
      return;
    case 'string':
      m._sqlite3_result_text(ctx, scratchUtf8(v), scratchBytes, SQLITE_TRANSIENT);
      return;
    case 'undefined':
      m._sqlite3_result_null(ctx);
      return;
    case 'object':
      if (v === null) return m._sqlite3_result_null(ctx);
      if (v instanceof Uint8Array) return m._sqlite3_result_blob(ctx, scratchBytesOf(v), v.length, SQLITE_TRANSIENT);
  }
  const p = scratchUtf8(`function returned an unsupported value of type ${typeof v}`);
  m._sqlite3_result_error(ctx, p, scratchBytes);
}

m.jsvfsFunctions = {
  call(fnId: number, ctx: number, argc: number, argv: number): void {
    const args: SqlValue[] = new Array(argc);
    for (let i = 0; i < argc; i++) args[i] = sqliteValue(i32At((argv >>> 0) + 4 * i));
    let result: unknown;
    try {
      result = table[fnId]!(...args);
    } catch (e) {
      const p = scratchUtf8(e instanceof Error ? e.message : String(e));
      m._sqlite3_result_error(ctx, p, scratchBytes);
      return;
    }
    setResult(ctx, result);
  },
  destroy(fnId: number): void {
    table[fnId] = undefined;
    freeIds.push(fnId);
  },
};

/** Define (or replace) `name` on connection `db`. */
export function createFunction(db: number, name: string, fn: ScalarFunction, deterministic: boolean): void {
  const id = freeIds.pop() ?? table.length;
  table[id] = fn;
  const z = mallocUtf8(name);
  // SQLite calls destroy (freeing the id) on replacement, on close, and on failure.
  const rc = m._jsvfs_create_function(db, z, fn.length === 0 ? -1 : fn.length, deterministic ? SQLITE_DETERMINISTIC : 0, id);
  m._free(z);
  if (rc !== SQLITE_OK) throw new SqliteError(rc, `function ${name}: ${rc}`);
}

export type { ScalarFunction };
