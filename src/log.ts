// The project's one logger: pino, JSON lines on stderr so stdout stays free for
// command output. The level is set from config (LITESTREAM_LOG_LEVEL) at open.
import { pino, type Logger } from 'pino';

export const log: Logger = pino({ name: 'ltxvfs', level: 'info' }, pino.destination(2));

/** Set the level of every logger derived from `log`. */
export function setLogLevel(level: string): void {
  log.level = level;
}
