// Values in and out: the safe-integer policy, BigInt, blobs, text, NULL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/engine/index.js';

let db: Database;
beforeAll(() => {
  db = new Database(':memory:');
  db.exec('CREATE TABLE v (x)');
});
afterAll(() => db.close());

function roundTrip(value: unknown): { x: unknown; t: unknown } {
  db.exec('DELETE FROM v');
  db.run('INSERT INTO v VALUES (?)', [value as never]);
  return db.get('SELECT x, typeof(x) AS t FROM v') as { x: unknown; t: unknown };
}

describe('integers and the safe-integer policy', () => {
  it('safe integers read back as numbers, stored as INTEGER', () => {
    for (const n of [0, 1, -1, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      expect(roundTrip(n)).toEqual({ x: n, t: 'integer' });
    }
  });

  it('integers beyond 2^53 - 1 read back as bigint, exactly', () => {
    for (const b of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 53n) - 1n]) {
      expect(roundTrip(b)).toEqual({ x: b, t: 'integer' });
    }
    expect(db.get('SELECT 9223372036854775807 AS max, -9223372036854775808 AS min')).toEqual({
      max: 9223372036854775807n,
      min: -9223372036854775808n,
    });
  });

  it('a small bigint binds as INTEGER and reads back as a number', () => {
    expect(roundTrip(42n)).toEqual({ x: 42, t: 'integer' });
  });

  it('bigints outside 64 bits are a RangeError', () => {
    expect(() => roundTrip(2n ** 63n)).toThrow(RangeError);
    expect(() => roundTrip(-(2n ** 63n) - 1n)).toThrow(/outside SQLite's 64-bit integer range/);
  });

  it('unsafe or fractional numbers bind as REAL', () => {
    expect(roundTrip(1.5)).toEqual({ x: 1.5, t: 'real' });
    expect(roundTrip(2 ** 60)).toEqual({ x: 2 ** 60, t: 'real' });
    expect(roundTrip(Infinity)).toEqual({ x: Infinity, t: 'real' });
  });

  it('booleans bind as 1 and 0', () => {
    expect(roundTrip(true)).toEqual({ x: 1, t: 'integer' });
    expect(roundTrip(false)).toEqual({ x: 0, t: 'integer' });
  });

  it('lastInsertRowid is a bigint only when unsafe', () => {
    db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY)');
    expect(db.run('INSERT INTO r VALUES (?)', 2n ** 62n).lastInsertRowid).toBe(2n ** 62n);
    expect(db.run('INSERT INTO r VALUES (?)', 7).lastInsertRowid).toBe(7);
  });
});

describe('text', () => {
  it('round-trips ASCII, multi-byte UTF-8, empty and long strings', () => {
    for (const s of ['', 'plain', 'héllo wörld', '日本語', '😀 emoji', 'x'.repeat(100_000), 'mixed ' + 'é'.repeat(50)]) {
      expect(roundTrip(s)).toEqual({ x: s, t: 'text' });
    }
    expect(db.get("SELECT length('日本語') AS n")).toEqual({ n: 3 });
  });
});

describe('blobs', () => {
  it('round-trip as Uint8Array copies, including empty and large', () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    for (const b of [new Uint8Array([0, 1, 2, 255]), new Uint8Array(0), big]) {
      const { x, t } = roundTrip(b);
      expect(t).toBe('blob');
      expect(x).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(x as Uint8Array).equals(Buffer.from(b))).toBe(true);
    }
  });

  it('a returned blob is not a view of the WASM heap', () => {
    const a = db.get('SELECT x'.replace('x', "x'0102'") + ' AS b')!.b as Uint8Array;
    const b = db.get("SELECT x'0304' AS b")!.b as Uint8Array;
    expect([...a]).toEqual([1, 2]);
    expect([...b]).toEqual([3, 4]);
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('a Buffer binds as a blob', () => {
    expect(roundTrip(Buffer.from('abc')).t).toBe('blob');
  });
});

describe('NULL', () => {
  it('null binds and reads as null', () => {
    expect(roundTrip(null)).toEqual({ x: null, t: 'null' });
  });
});
