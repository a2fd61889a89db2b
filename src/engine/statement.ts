// A prepared statement. The hot path (bind, step, read columns) makes no heap
// allocations of its own beyond the row object: values go through one scratch
// buffer, column names and parameter indexes are looked up once.
import { SQLITE_DONE, SQLITE_MISUSE, SQLITE_RANGE, SQLITE_ROW } from '../vfs/codes.js';
import { cString } from './heap.js';
import { SqliteError } from './sqlite-error.js';
import { bindValue, columnValue, type BindValues, type ExpandedRow, type Row } from './values.js';
import { facade } from './vfs-facade.js';
import { sqliteModule } from './wasm.js';
import type { Database } from './database.js';

const m = sqliteModule();
// Module-local: under tsx/vitest an imported binding is a getter call per use.
const ROW = SQLITE_ROW;
const DONE = SQLITE_DONE;

/** What `run` returns. `lastInsertRowid` is a bigint only beyond Number.MAX_SAFE_INTEGER. */
export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** `expand: true` nests each row by table name (`$` for expressions), as node-sqlite3-wasm does. */
export interface QueryOptions {
  expand?: boolean;
}

/** The parts of Database that statements use; not public API. */
export interface StatementHost {
  readonly handle: number;
  /** Throw the SqliteError for `rc` on this connection. */
  fail(rc: number, failureSeq: number): never;
  forget(stmt: Statement): void;
}

export class Statement {
  private ptr: number;
  private readonly host: StatementHost;
  private readonly db: Database;
  private names: string[] = [];
  private readonly paramCount: number;
  private params: Map<string, number> | undefined;
  /** Bumped whenever the statement is re-executed, so a stale iterator can tell. */
  private generation = 0;
  private closedWithDatabase = false;
  /** Stepped since the last reset: the next execution must reset first. */
  private stepped = false;
  /** Column names are re-checked at the first row of each execution: a schema change re-prepares inside step. */
  private namesChecked = false;

  /** @internal Use Database.prepare. */
  constructor(db: Database, host: StatementHost, ptr: number) {
    this.db = db;
    this.host = host;
    this.ptr = ptr;
    this.paramCount = m._sqlite3_bind_parameter_count(ptr);
  }

  /** The Database that prepared this statement. */
  get database(): Database {
    return this.db;
  }

  get isFinalized(): boolean {
    return this.ptr === 0;
  }

  /** Execute once with `values`; returns the change count and last rowid. */
  run(values?: BindValues): RunResult {
    const s = this.start(values);
    this.step(s);
    this.reset(s);
    const h = this.host.handle;
    const rowid = m._jsvfs_last_insert_rowid(h);
    return {
      changes: m._sqlite3_changes(h),
      lastInsertRowid: Number.isSafeInteger(rowid) ? rowid : m._sqlite3_last_insert_rowid(h),
    };
  }

  /** The first row, or null if there is none. */
  get(values?: BindValues, options?: { expand?: false }): Row | null;
  get(values: BindValues | undefined, options: { expand: true }): ExpandedRow | null;
  get(values?: BindValues, options?: QueryOptions): Row | ExpandedRow | null;
  get(values?: BindValues, options?: QueryOptions): Row | ExpandedRow | null {
    const s = this.start(values);
    const expand = options?.expand === true;
    try {
      return this.step(s) ? this.row(s, expand) : null;
    } finally {
      this.reset(s); // end the read transaction now, not at the next use
    }
  }

  /** All rows. */
  all(values?: BindValues, options?: { expand?: false }): Row[];
  all(values: BindValues | undefined, options: { expand: true }): ExpandedRow[];
  all(values?: BindValues, options?: QueryOptions): (Row | ExpandedRow)[];
  all(values?: BindValues, options?: QueryOptions): (Row | ExpandedRow)[] {
    const s = this.start(values);
    const expand = options?.expand === true;
    const rows: (Row | ExpandedRow)[] = [];
    try {
      while (this.step(s)) rows.push(this.row(s, expand));
    } finally {
      this.reset(s);
    }
    return rows;
  }

  /** Rows one at a time. Re-executing the statement ends an unfinished iteration. */
  iterate(values?: BindValues, options?: { expand?: false }): IterableIterator<Row>;
  iterate(values: BindValues | undefined, options: { expand: true }): IterableIterator<ExpandedRow>;
  iterate(values?: BindValues, options?: QueryOptions): IterableIterator<Row | ExpandedRow>;
  *iterate(values?: BindValues, options?: QueryOptions): IterableIterator<Row | ExpandedRow> {
    const s = this.start(values);
    const generation = this.generation;
    const expand = options?.expand === true;
    try {
      for (;;) {
        if (this.generation !== generation || this.ptr !== s) {
          throw new SqliteError(SQLITE_MISUSE, 'iterate: the statement was re-executed, finalized or closed during iteration');
        }
        if (!this.step(s)) return;
        yield this.row(s, expand);
      }
    } finally {
      if (this.generation === generation && this.ptr === s) this.reset(s);
    }
  }

  /** Free the statement. Database.close finalizes the ones left. */
  finalize(): void {
    if (this.ptr === 0) throw this.unusable();
    const s = this.ptr;
    this.ptr = 0;
    this.host.forget(this);
    m._sqlite3_finalize(s); // its rc repeats the last step's error, already reported
  }

  /** @internal Called by Database.close. */
  finalizeWithDatabase(): void {
    if (this.ptr === 0) return;
    m._sqlite3_finalize(this.ptr);
    this.ptr = 0;
    this.closedWithDatabase = true;
  }

  private unusable(): SqliteError {
    return new SqliteError(
      SQLITE_MISUSE,
      this.closedWithDatabase ? 'statement used after its database was closed' : 'Statement already finalized',
    );
  }

  /** Reset, bind, and return the handle. */
  private start(values: BindValues | undefined): number {
    const s = this.ptr;
    if (s === 0) throw this.unusable();
    this.generation++;
    if (this.stepped) this.reset(s);
    // Parameters not given are NULL; skip the call when the values cover them all.
    if (this.paramCount > 0 && !this.bindsAll(values)) m._sqlite3_clear_bindings(s);
    if (values !== undefined) this.bind(s, values);
    this.namesChecked = false;
    return s;
  }

  private reset(s: number): void {
    m._sqlite3_reset(s);
    this.stepped = false;
  }

  private bindsAll(values: BindValues | undefined): boolean {
    if (Array.isArray(values)) return values.length === this.paramCount;
    const single = values === null || typeof values !== 'object' || values instanceof Uint8Array;
    return values !== undefined && single && this.paramCount === 1;
  }

  private bind(s: number, values: BindValues): void {
    if (Array.isArray(values)) {
      for (let i = 0; i < values.length; i++) this.check(bindValue(s, i + 1, values[i], i + 1));
    } else if (values !== null && typeof values === 'object' && !(values instanceof Uint8Array)) {
      const params = this.params ?? (this.params = parameterIndex(s, this.paramCount));
      for (const key of Object.keys(values)) {
        const i = params.get(key);
        if (i === undefined) throw new SqliteError(SQLITE_RANGE, `Unknown binding parameter: "${key}"`);
        this.check(bindValue(s, i, (values as Record<string, unknown>)[key], key));
      }
    } else {
      this.check(bindValue(s, 1, values, 1));
    }
  }

  private check(rc: number): void {
    if (rc !== 0) this.host.fail(rc, -1);
  }

  /** true: a row is ready; false: done. */
  private step(s: number): boolean {
    const seq = facade.failures;
    this.stepped = true;
    const rc = m._sqlite3_step(s);
    if (rc === ROW) return true;
    if (rc === DONE) return false;
    this.reset(s);
    return this.host.fail(rc, seq);
  }

  private row(s: number, expand: boolean): Row | ExpandedRow {
    if (!this.namesChecked) {
      const n = m._sqlite3_column_count(s);
      if (n !== this.names.length) this.names = columnNames(s, n);
      this.namesChecked = true;
    }
    const names = this.names;
    if (!expand) {
      const row: Row = {};
      for (let i = 0; i < names.length; i++) row[names[i]] = columnValue(s, i);
      return row;
    }
    const nested: ExpandedRow = {};
    for (let i = 0; i < names.length; i++) {
      const table = cString(m._sqlite3_column_table_name(s, i)) || '$';
      (nested[table] ??= {})[names[i]] = columnValue(s, i);
    }
    return nested;
  }
}

function columnNames(s: number, n: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(cString(m._sqlite3_column_name(s, i)));
  return names;
}

// ':a', '@a', '$a' → index; the bare name 'a' works too unless two prefixes share it.
function parameterIndex(s: number, count: number): Map<string, number> {
  const map = new Map<string, number>();
  for (let i = 1; i <= count; i++) {
    const name = cString(m._sqlite3_bind_parameter_name(s, i));
    if (name === '') continue;
    map.set(name, i);
    const bare = name.slice(1);
    if (!map.has(bare)) map.set(bare, i);
  }
  return map;
}
