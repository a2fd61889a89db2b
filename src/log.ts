// The project's one logger: pino, JSON lines on stderr so stdout stays free for
// command output. The level is set from config (LITESTREAM_LOG_LEVEL) at open.
// pino (and its dozen modules) loads on the first message at an enabled level, or the
// first other use (child(), …), not at import: a read-only open logs nothing on its
// way to the first row, and the import cost ~35 ms of every start.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

// pino's level values; a message below the current level is dropped without loading it.
const VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

let level = 'info';
let real: Logger | undefined;

function logger(): Logger {
  if (real === undefined) {
    const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
    real = pino({ name: 'ltxvfs', level }, pino.destination(2));
  }
  return real;
}

const drop = (): void => undefined;

export const log: Logger = new Proxy({} as Logger, {
  get(_, key) {
    if (key === 'level') return real?.level ?? level;
    if (real === undefined && typeof key === 'string' && key in VALUES && VALUES[key] < (VALUES[level] ?? 0)) return drop;
    const l = logger();
    const value: unknown = Reflect.get(l, key);
    return typeof value === 'function' ? value.bind(l) : value;
  },
  set(_, key, value) {
    if (key === 'level') {
      const next = String(value);
      if (real !== undefined || !(next in VALUES)) logger().level = next; // pino refuses an unknown level
      level = next;
      return true;
    }
    return Reflect.set(logger(), key, value);
  },
});

/** Set the level of every logger derived from `log`. */
export function setLogLevel(level: string): void {
  log.level = level;
}
