// The sidecar `<db>.ltxvfs.json`: what a hydrated file reflects, written atomically
// (temp, fsync, rename, fsync dir) after the file itself is durable. Fields:
// - url: the replica it came from;
// - txid, pageSize, commit, checksum (the database checksum at txid when the chain
//   carries checksums; Litestream's files do not, then null);
// - identity: key, size and file checksum of the LTX file whose maxTXID is txid, the
//   replica's own fingerprint of that state (see identity.ts for how it is checked);
// - applyingTo: set while newer files are being written into the file; a crash then
//   leaves pages of (txid, applyingTo] mixed in, which applying files reaching at
//   least applyingTo repairs (each rewrites every page changed in its range).
import { closeSync, existsSync, fsyncSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { openPrivate } from '../private-fs.js';
import { isValidPageSize } from '../ltx/header.js';
import { syncDirSync } from '../storage/sync-dir.js';
import { dirname } from 'node:path';
import type { CopyState } from './types.js';

export interface SidecarIdentity {
  key: string;
  size: number;
  fileChecksum: bigint;
}

export interface Sidecar extends CopyState {
  /** Non-null while (or if a crash interrupted) applying files up to this TXID. */
  applyingTo: bigint | null;
  updatedAt: string;
}

const FORMAT = 'ltxvfs-hydration/1';

export function sidecarPath(dbPath: string): string {
  return `${dbPath}.ltxvfs.json`;
}

const hex = (v: bigint) => v.toString(16).padStart(16, '0');

/** What the sidecar of `dbPath` says, or null (missing, unreadable, or for another replica URL when `url` is given). */
export function readSidecar(dbPath: string, url?: string): Sidecar | null {
  const p = sidecarPath(dbPath);
  if (!existsSync(p)) return null;
  try {
    const fd = openPrivate(p, 'read');
    let text: string;
    try {
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
    const j = JSON.parse(text) as Record<string, any>;
    if (j.format !== FORMAT) return null;
    const s: Sidecar = {
      url: String(j.url),
      txid: BigInt(j.txid),
      pageSize: Number(j.pageSize),
      commit: Number(j.commit),
      checksum: j.checksum === null ? null : BigInt(`0x${j.checksum}`),
      identity: { key: String(j.identity.key), size: Number(j.identity.size), fileChecksum: BigInt(`0x${j.identity.fileChecksum}`) },
      applyingTo: j.applyingTo == null ? null : BigInt(j.applyingTo),
      updatedAt: String(j.updatedAt),
    };
    // Hostile-input checks (it is read back from disk): sizes that make sense, TXIDs in range.
    if (!isValidPageSize(s.pageSize) || !Number.isInteger(s.commit) || s.commit < 0 || s.commit > 0xffffffff) return null;
    if (s.txid < 1n || s.txid >= 1n << 64n || (s.applyingTo !== null && (s.applyingTo <= s.txid || s.applyingTo >= 1n << 64n))) return null;
    if (!Number.isSafeInteger(s.identity.size) || s.identity.size < 0 || s.identity.key === '' || (s.checksum !== null && s.checksum >= 1n << 64n) || s.identity.fileChecksum >= 1n << 64n) return null;
    if (typeof j.url !== 'string' || typeof j.identity.key !== 'string') return null;
    if (url !== undefined && s.url !== url) return null;
    return s;
  } catch {
    return null;
  }
}

export function sidecarJson(s: Omit<Sidecar, 'updatedAt'>): Record<string, unknown> {
  return {
    format: FORMAT,
    url: s.url,
    txid: s.txid.toString(),
    pageSize: s.pageSize,
    commit: s.commit,
    checksum: s.checksum === null ? null : hex(s.checksum),
    identity: { key: s.identity.key, size: s.identity.size, fileChecksum: hex(s.identity.fileChecksum) },
    applyingTo: s.applyingTo === null ? null : s.applyingTo.toString(),
    updatedAt: new Date().toISOString(),
  };
}

/** Write the sidecar atomically and durably. */
export function writeSidecar(dbPath: string, s: Omit<Sidecar, 'updatedAt'> | Record<string, unknown>): void {
  const p = sidecarPath(dbPath);
  const tmp = `${p}.tmp`;
  const json = 'format' in s ? s : sidecarJson(s as Omit<Sidecar, 'updatedAt'>);
  rmSync(tmp, { force: true });
  const fd = openPrivate(tmp, 'create');
  try {
    const text = Buffer.from(JSON.stringify(json, null, 2) + '\n');
    for (let at = 0; at < text.length; ) at += writeSync(fd, text, at, text.length - at, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, p);
  syncDirSync(dirname(p));
}

export function removeSidecar(dbPath: string): void {
  rmSync(sidecarPath(dbPath), { force: true });
  syncDirSync(dirname(dbPath));
}

