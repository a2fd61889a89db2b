// LTX file names (FORMAT.md §12): `<minTXID %016x>-<maxTXID %016x>.ltx`, lowercase,
// so that lexical order is TXID order.

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;
const U64_MAX = (1n << 64n) - 1n;

/** 16 lowercase hex digits. */
export function formatTXID(txid: bigint): string {
  if (txid < 0n || txid > U64_MAX) throw new TypeError(`TXID ${txid} is not a u64`);
  return txid.toString(16).padStart(16, '0');
}

export function formatLtxFilename(minTXID: bigint, maxTXID: bigint): string {
  if (maxTXID < minTXID) throw new TypeError(`maxTXID ${maxTXID} is below minTXID ${minTXID}`);
  return `${formatTXID(minTXID)}-${formatTXID(maxTXID)}.ltx`;
}

/** Parse a bare file name (no directory). Returns null for anything that is not an LTX name. */
export function parseLtxFilename(name: string): { minTXID: bigint; maxTXID: bigint } | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const minTXID = BigInt(`0x${m[1]}`);
  const maxTXID = BigInt(`0x${m[2]}`);
  if (minTXID === 0n || maxTXID < minTXID) return null;
  return { minTXID, maxTXID };
}
