// The engine's public surface: a node-sqlite3-wasm-shaped Database API over our
// own SQLite WASM build, and VFS registration.
export { Database, type DatabaseOptions } from './database.js';
export { Statement, type QueryOptions, type RunResult } from './statement.js';
export { SqliteError, SqliteError as SQLite3Error, codeName } from './sqlite-error.js';
export { registerVfs, registeredVfsNames } from './registry.js';
export { engineStats, sqliteVersion } from './stats.js';
export type { BindValue, BindValues, ExpandedRow, Row, SqlValue } from './values.js';
