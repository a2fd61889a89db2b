// Runs the compiled CLI (dist/) as a user would, on golden files and corrupted copies.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN as MAIN, ROOT, cli as run, ensureBuilt } from '../support/cli.js';

const G = path.join(ROOT, 'test/fixtures/golden');
const TX1 = path.join(G, 'checksum/0000000000000001-0000000000000001.ltx');
const LEGACY2 = path.join(G, 'legacy-v3-lz4frame-ltx-v0.5.1/nochecksum/0000000000000002-0000000000000002.ltx');

function cli(...args: string[]) {
  return run(args);
}

beforeAll(() => {
  ensureBuilt();
  expect(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
}, 120_000);

describe('ltxvfs ltx verify', () => {
  it('prints one ok line per file and exits 0', () => {
    const r = cli('ltx', 'verify', TX1, LEGACY2);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean)).toEqual([`ok  ${TX1}  txid 1-1  3 pages`, `ok  ${LEGACY2}  txid 2-2  2 pages`]);
  });

  it('names the defect of a corrupted copy and exits 1', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-cli-'));
    const bad = path.join(dir, '0000000000000001-0000000000000001.ltx');
    const bytes = readFileSync(TX1);
    bytes[3000] ^= 0x10; // inside page 3's literals: the page changes, so the file checksum fails
    writeFileSync(bad, bytes);
    const truncated = path.join(dir, 'truncated.ltx');
    writeFileSync(truncated, readFileSync(TX1).subarray(0, 4000));
    const renamed = path.join(dir, '0000000000000007-0000000000000007.ltx');
    copyFileSync(TX1, renamed);
    const r = cli('ltx', 'verify', TX1, bad, truncated, renamed);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^ok {2}/);
    expect(lines[1]).toMatch(new RegExp(`^FAIL ${bad}: decode: file checksum mismatch: trailer has b8157c052c1e5f91, content gives [0-9a-f]{16}$`));
    expect(lines[2]).toBe(`FAIL ${truncated}: decode: file ends inside the page frames at offset 4000`);
    expect(lines[3]).toBe(`FAIL ${renamed}: file name says txid 7-7, header says 1-1`);
  });

  it('--json gives one object per file with the error code', () => {
    const r = cli('ltx', 'verify', '--json', TX1, path.join(G, 'does-not-exist.ltx'));
    expect(r.code).toBe(1);
    const v = JSON.parse(r.out) as { ok: boolean; code?: string; pages?: number }[];
    expect(v.map((x) => x.ok)).toEqual([true, false]);
    expect(v[0].pages).toBe(3);
    expect(v[1].code).toBe('ENOENT');
  });
});

describe('ltxvfs ltx dump', () => {
  it('prints header, frames, index and trailer', () => {
    const r = cli('ltx', 'dump', path.join(G, 'checksum/0000000000000002-0000000000000002.ltx'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('incremental, txid 2-2');
    expect(r.out).toContain('wal        offset 32, size 8240, salts 11223344 55667788');
    expect(r.out).toMatch(/ 2 +100 +48 +38 {2}8166470a6833d390/);
    expect(r.out).toContain('index      offset 457, 9 bytes, 2 entries');
    expect(r.out).toContain('checksum   e86977909220e64c (verified)');
  });

  it('--json matches layout.jsonl for a legacy file', () => {
    const r = cli('ltx', 'dump', '--json', LEGACY2);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out) as { header: { flags: number; commit: number }; frames: { offset: number; size: number; sha256: string }[]; trailer: { fileChecksum: string } };
    const line = readFileSync(path.join(G, 'layout.jsonl'), 'utf8').split('\n').map((l) => (l ? JSON.parse(l) : null)).find((l) => l?.file === 'golden/legacy-v3-lz4frame-ltx-v0.5.1/nochecksum/0000000000000002-0000000000000002.ltx');
    expect(d.header).toMatchObject({ flags: 2, commit: 4 });
    expect(d.frames.map((f) => [f.offset, f.size, f.sha256])).toEqual(line.frames.map((f: { offset: number; size: number; dataSha256: string }) => [f.offset, f.size, f.dataSha256]));
    expect(d.trailer.fileChecksum).toBe(line.trailer.fileChecksum);
  });

  it('a defective file is one line on stderr and exit 1', () => {
    const r = cli('ltx', 'dump', path.join(G, 'README.md'));
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe('ltxvfs ltx dump: header: magic is 23 20 4c 54, expected 4c 54 58 31 ("LTX1")');
  });
});

describe('usage and help', () => {
  it('--help helps at every level and exits 0', () => {
    const top = cli('--help');
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/ltx +Inspect and check LTX files/);
    const group = cli('ltx', '--help');
    expect(group.code).toBe(0);
    expect(group.out).toMatch(/dump +Print the header/);
    expect(group.out).toMatch(/verify +Check LTX files strictly/);
    const verify = cli('ltx', 'verify', '--help');
    expect(verify.code).toBe(0);
    expect(verify.out).toContain('Usage: ltxvfs ltx verify [--json] <file>...');
    expect(verify.out).toContain('Example:');
  });

  it('usage errors are one line on stderr and exit 2', () => {
    for (const [args, msg] of [
      [['ltx', 'verify'], "ltxvfs ltx verify: expected at least one file. Run 'ltxvfs ltx verify --help' for usage."],
      [['ltx', 'dump', 'a', 'b'], "ltxvfs ltx dump: expected one file, got 2. Run 'ltxvfs ltx dump --help' for usage."],
      [['ltx', 'verify', '--bogus', TX1], "ltxvfs ltx verify: Unknown option '--bogus'. Run 'ltxvfs ltx verify --help' for usage."],
      [['nope'], "ltxvfs: unknown command 'nope'. Run 'ltxvfs --help' for the list."],
    ] as const) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim()).toBe(msg);
      expect(r.out).toBe('');
    }
  });
});
