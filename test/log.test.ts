// The logger loads pino on first use: its level can be read and set before that, an
// unknown level is still refused, and child loggers work.
import { describe, expect, it } from 'vitest';
import { log, setLogLevel } from '../src/log.js';

describe('log', () => {
  it('keeps its level before and after pino loads; refuses an unknown level', () => {
    const was = String(log.level);
    try {
      setLogLevel('error');
      expect(log.level).toBe('error');
      log.debug('dropped'); // below the level: no output, no pino needed
      expect(() => setLogLevel('bogus')).toThrow(/unknown level/);
      expect(log.level).toBe('error');
      const child = log.child({ component: 'test' });
      expect(typeof child.warn).toBe('function');
      setLogLevel('silent');
      expect(log.level).toBe('silent');
    } finally {
      setLogLevel(was);
    }
  });
});
