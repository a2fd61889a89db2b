// A connection, shaped like node-sqlite3-wasm's Database so that switching is
// a one-line change (see native/README.md for the differences).
import {
  SQLITE_CANTOPEN,
  SQLITE_IOERR,
  SQLITE_MISUSE,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_EXRESCODE,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
  primaryCode,
} from '../vfs/codes.js';
import { createFunction, type ScalarFunction } from './functions.js';
import { cString, i32At, mallocUtf8, outPointerCell, scratchBytes, scratchUtf8 } from './heap.js';
import { ensureDefaultVfses } from './registry.js';
import { SqliteError } from './sqlite-error.js';
import { Statement, type QueryOptions, type RunResult, type StatementHost } from './statement.js';
import type { BindValues, ExpandedRow, Row } from './values.js';
import { describe, facade } from './vfs-facade.js';
import { sqliteModule } from './wasm.js';

const m = sqliteModule();

export interface DatabaseOptions {
  /** Name of a registered VFS; default: the default VFS (`local`). A `file:` URI's `?vfs=` wins. */
  vfs?: string;
  readOnly?: boolean;
  /** Fail instead of creating the file. Ignored with readOnly. */
  fileMustExist?: boolean;
}

export class Database {
  private db: number;
  private readonly statements = new Set<Statement>();
  private readonly host: StatementHost;

  /** Open `filename` (a path, `:memory:`, or a `file:` URI). */
  constructor(filename = ':memory:', options: DatabaseOptions = {}) {
    if (typeof filename !== 'string') throw new TypeError('filename: expected a string');
    const { vfs, readOnly = false, fileMustExist = false } = checkOptions(options);
    ensureDefaultVfses();
    let flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (fileMustExist ? 0 : SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE;
    const zName = mallocUtf8(filename);
    const zVfs = vfs === undefined ? 0 : mallocUtf8(vfs);
    const pDb = outPointerCell();
    const seq = facade.failures;
    const rc = m._sqlite3_open_v2(zName, pDb, flags, zVfs);
    const db = i32At(pDb);
    m._free(zName);
    if (zVfs !== 0) m._free(zVfs);
    if (rc !== SQLITE_OK) {
      const message = db === 0 ? cString(m._sqlite3_errstr(rc)) : cString(m._sqlite3_errmsg(db));
      m._sqlite3_close_v2(db);
      throw withVfsFailure(rc, `open "${filename}": ${message}`, seq);
    }
    m._sqlite3_extended_result_codes(db, 1);
    this.db = db;
    const self = this;
    this.host = {
      get handle() {
        return self.db;
      },
      fail: (rc, failureSeq) => this.fail(rc, failureSeq),
      forget: (stmt) => this.statements.delete(stmt),
    };
  }

  get isOpen(): boolean {
    return this.db !== 0;
  }

  /** True between BEGIN and COMMIT/ROLLBACK. */
  get inTransaction(): boolean {
    return m._sqlite3_get_autocommit(this.handle()) === 0;
  }

  /** Run one or more `;`-separated statements. */
  exec(sql: string): void {
    const db = this.handle();
    const z = mallocUtf8(sql); // not scratch: user functions may run during exec
    const seq = facade.failures;
    const rc = m._sqlite3_exec(db, z, 0, 0, 0);
    m._free(z);
    if (rc !== SQLITE_OK) this.fail(rc, seq);
  }

  /** Prepare the first statement of `sql`. Finalize it, or let close() do so. */
  prepare(sql: string): Statement {
    const db = this.handle();
    const p = scratchUtf8(sql);
    const ppStmt = outPointerCell();
    const seq = facade.failures;
    const rc = m._sqlite3_prepare_v3(db, p, scratchBytes, 0, ppStmt, 0);
    const stmt = i32At(ppStmt);
    if (rc !== SQLITE_OK) this.fail(rc, seq);
    if (stmt === 0) throw new SqliteError(SQLITE_MISUSE, 'Nothing to prepare');
    const statement = new Statement(this, this.host, stmt);
    this.statements.add(statement);
    return statement;
  }

  /** Prepare, run once, finalize. */
  run(sql: string, values?: BindValues): RunResult {
    const stmt = this.prepare(sql);
    try {
      return stmt.run(values);
    } finally {
      stmt.finalize();
    }
  }

  /** Prepare, return all rows, finalize. */
  all(sql: string, values?: BindValues, options?: { expand?: false }): Row[];
  all(sql: string, values: BindValues | undefined, options: { expand: true }): ExpandedRow[];
  all(sql: string, values?: BindValues, options?: QueryOptions): (Row | ExpandedRow)[] {
    const stmt = this.prepare(sql);
    try {
      return stmt.all(values, options);
    } finally {
      stmt.finalize();
    }
  }

  /** Prepare, return the first row or null, finalize. */
  get(sql: string, values?: BindValues, options?: { expand?: false }): Row | null;
  get(sql: string, values: BindValues | undefined, options: { expand: true }): ExpandedRow | null;
  get(sql: string, values?: BindValues, options?: QueryOptions): Row | ExpandedRow | null {
    const stmt = this.prepare(sql);
    try {
      return stmt.get(values, options);
    } finally {
      stmt.finalize();
    }
  }

  /** Define a scalar SQL function `name` implemented by `func`. */
  function(name: string, func: ScalarFunction, options: { deterministic?: boolean } = {}): this {
    if (typeof func !== 'function') throw new TypeError('func: expected a function');
    createFunction(this.handle(), name, func, options.deterministic === true);
    return this;
  }

  /** Finalize every statement still open, then close the connection. */
  close(): void {
    const db = this.handle();
    for (const stmt of this.statements) stmt.finalizeWithDatabase();
    this.statements.clear();
    const rc = m._sqlite3_close_v2(db);
    this.db = 0;
    if (rc !== SQLITE_OK) throw new SqliteError(rc, `close: ${cString(m._sqlite3_errstr(rc))}`);
  }

  private handle(): number {
    if (this.db === 0) throw new SqliteError(SQLITE_MISUSE, 'Database is closed');
    return this.db;
  }

  private fail(rc: number, seq: number): never {
    const code = this.db === 0 ? rc : m._sqlite3_extended_errcode(this.db) || rc;
    const message = this.db === 0 ? cString(m._sqlite3_errstr(rc)) : cString(m._sqlite3_errmsg(this.db));
    throw withVfsFailure(code, message, seq);
  }
}

// An I/O or open failure that a VFS caused during this call carries the VFS's error as its cause.
function withVfsFailure(code: number, message: string, seq: number): SqliteError {
  const f = facade.latest;
  const primary = primaryCode(code);
  if (f !== undefined && f.seq > seq && seq >= 0 && (primary === SQLITE_IOERR || primary === SQLITE_CANTOPEN || f.code === code)) {
    // A PRAGMA's failure message already is the VFS's own message (SQLITE_FCNTL_PRAGMA passes it through).
    const own = f.error instanceof Error ? f.error.message : String(f.error);
    return new SqliteError(code, message === own ? message : `${message} (${describe(f)})`, { cause: f.error });
  }
  return new SqliteError(code, message);
}

function checkOptions(options: DatabaseOptions): DatabaseOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  const { vfs, readOnly, fileMustExist } = options;
  if (vfs !== undefined) {
    if (typeof vfs !== 'string') throw new TypeError('vfs: expected the name of a registered VFS');
    ensureDefaultVfses();
    if (!facade.has(vfs)) {
      throw new TypeError(`vfs: no VFS named "${vfs}" is registered (registered: ${facade.names().join(', ')})`);
    }
  }
  if (readOnly !== undefined && typeof readOnly !== 'boolean') throw new TypeError('readOnly: expected a boolean');
  if (fileMustExist !== undefined && typeof fileMustExist !== 'boolean') {
    throw new TypeError('fileMustExist: expected a boolean');
  }
  return options;
}
