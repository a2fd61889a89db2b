// JavaScript values in and out of SQLite, with node-sqlite3-wasm's conventions.
//
// Safe-integer policy: an INTEGER column reads as a `number` when it is within
// ±(2^53 − 1) (Number.isSafeInteger) and as a `bigint` otherwise, so no value
// is ever silently rounded. Binding: a `bigint` binds as INTEGER (RangeError
// outside the signed 64-bit range); a `number` binds as INTEGER when it is a
// safe integer and as REAL otherwise (so 1.5 and 2 ** 60 are REAL); `true`/
// `false` bind as 1/0. Uint8Array is a BLOB (copied out on read), string TEXT.
import { bytesAt, scratchBytes, scratchBytesOf, scratchUtf8, utf8At } from './heap.js';
import { sqliteModule } from './wasm.js';

/** A value SQLite can return. */
export type SqlValue = number | bigint | string | Uint8Array | null;
/** A value that can be bound to a parameter. */
export type BindValue = SqlValue | boolean;
/** Positional values (one value or an array) or named values (`{ ':a': 1 }`; the prefix may be left off). */
export type BindValues = BindValue | readonly BindValue[] | Readonly<Record<string, BindValue>>;
/** One result row, keyed by column name. */
export type Row = Record<string, SqlValue>;
/** A row with `expand: true`: columns grouped by table name, `$` for expressions. */
export type ExpandedRow = Record<string, Row>;

const m = sqliteModule();

const SQLITE_INTEGER = 1;
const SQLITE_FLOAT = 2;
const SQLITE_TEXT = 3;
const SQLITE_BLOB = 4;
/** SQLITE_TRANSIENT: SQLite copies the bytes before the call returns. */
export const SQLITE_TRANSIENT = -1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Bind `value` to parameter `i` of `stmt`; returns SQLite's result code. `label` names the parameter in errors. */
export function bindValue(stmt: number, i: number, value: unknown, label: string | number): number {
  switch (typeof value) {
    case 'number':
      if (Number.isInteger(value)) {
        if (value >= INT32_MIN && value <= INT32_MAX) return m._sqlite3_bind_int(stmt, i, value);
        if (Number.isSafeInteger(value)) return m._jsvfs_bind_int53(stmt, i, value);
      }
      return m._sqlite3_bind_double(stmt, i, value);
    case 'string': {
      const p = scratchUtf8(value);
      return m._sqlite3_bind_text(stmt, i, p, scratchBytes, SQLITE_TRANSIENT);
    }
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new RangeError(`bind parameter ${label}: ${value} is outside SQLite's 64-bit integer range`);
      }
      return m._sqlite3_bind_int64(stmt, i, value);
    case 'boolean':
      return m._sqlite3_bind_int(stmt, i, value ? 1 : 0);
    case 'object':
      if (value === null) return m._sqlite3_bind_null(stmt, i);
      if (value instanceof Uint8Array) {
        return m._sqlite3_bind_blob(stmt, i, scratchBytesOf(value), value.length, SQLITE_TRANSIENT);
      }
  }
  throw new TypeError(
    `bind parameter ${label}: unsupported value of type ${value === null ? 'null' : typeof value}` +
      ' (accepts number, bigint, string, boolean, Uint8Array or null)',
  );
}

/** Column `i` of the current row of `stmt`. */
export function columnValue(stmt: number, i: number): SqlValue {
  switch (m._sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: {
      // Exact for |v| <= 2^53 - 1; anything that rounds outside that range needs the BigInt.
      const d = m._sqlite3_column_double(stmt, i);
      return d <= Number.MAX_SAFE_INTEGER && d >= -Number.MAX_SAFE_INTEGER ? d : m._sqlite3_column_int64(stmt, i);
    }
    case SQLITE_FLOAT:
      return m._sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const p = m._sqlite3_column_text(stmt, i);
      return utf8At(p, m._sqlite3_column_bytes(stmt, i));
    }
    case SQLITE_BLOB: {
      const p = m._sqlite3_column_blob(stmt, i);
      return bytesAt(p, m._sqlite3_column_bytes(stmt, i));
    }
    default:
      return null;
  }
}

/** Argument `p` (a sqlite3_value*) of a user-defined function. */
export function sqliteValue(p: number): SqlValue {
  switch (m._sqlite3_value_type(p)) {
    case SQLITE_INTEGER: {
      const d = m._sqlite3_value_double(p);
      return d <= Number.MAX_SAFE_INTEGER && d >= -Number.MAX_SAFE_INTEGER ? d : m._sqlite3_value_int64(p);
    }
    case SQLITE_FLOAT:
      return m._sqlite3_value_double(p);
    case SQLITE_TEXT: {
      const t = m._sqlite3_value_text(p);
      return utf8At(t, m._sqlite3_value_bytes(p));
    }
    case SQLITE_BLOB: {
      const b = m._sqlite3_value_blob(p);
      return bytesAt(b, m._sqlite3_value_bytes(p));
    }
    default:
      return null;
  }
}
