// Shapes shared by the hydrator and applyLtxFiles.
import type { SidecarIdentity } from './sidecar.js';

export interface HydrationProgress {
  phase: 'plan' | 'fetch' | 'verify' | 'catchup' | 'done';
  bytesDone: number;
  bytesTotal: number;
  percent: number; // 0..100
  txid: bigint;
}

export interface HydrationStats {
  /** LTX bytes fetched by this call (metadata and retries included). */
  bytesFetched: number;
  /** Bytes of the plan that an earlier, interrupted run had already done. */
  bytesResumed: number;
  requests: number;
  retries: number;
  corruptFetches: number;
  ms: number;
  /** How the call ended: a fresh or resumed build, a reused file, or a reused file brought forward. */
  mode: 'built' | 'reused' | 'caught-up';
}

/** What a local copy reflects: the part HydratedFile and the sidecar share. */
export interface CopyState {
  url: string;
  txid: bigint;
  pageSize: number;
  commit: number;
  /** DB checksum at txid when the chain carries checksums, else null. */
  checksum: bigint | null;
  /** The LTX file whose maxTXID is txid (what the sidecar records to recognize the replica). */
  identity: SidecarIdentity;
}

export interface HydratedFile extends CopyState {
  path: string;
  /** Set by hydrate(). */
  stats?: HydrationStats;
}
