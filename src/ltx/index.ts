// Public surface of the LTX codec.
export { LtxError, type LtxErrorCode, hex64 } from './errors.js';
export { CHECKSUM_FLAG, Crc64, crc64, pageChecksum, DatabaseChecksum, databaseChecksum } from './checksum.js';
export {
  HEADER_SIZE,
  TRAILER_SIZE,
  HEADER_FLAG_NO_CHECKSUM,
  PAGE_FLAG_LZ4_BLOCK,
  type LtxHeader,
  type LtxHeaderInit,
  type LtxTrailer,
  decodeHeader,
  encodeHeader,
  hasChecksums,
  isSnapshot,
  lockPage,
} from './header.js';
export { type PageEncoding, decodePageFrame, encodePageFrame } from './page-frame.js';
export {
  type PageIndexEntry,
  type PageIndexColumns,
  type TailIndex,
  type TailIndexColumns,
  readTailIndex,
  readTailIndexColumns,
  parsePageIndexColumns,
  pageIndexColumns,
  pageIndexEntries,
  MIN_FILE_SIZE,
  TAIL_FIXED_SIZE,
} from './page-index.js';
export { LtxEncoder, encodeLtx, type EncodedLtx, type FinishOptions, type PageInput } from './encoder.js';
export { LtxDecoder, decodeLtx, type DecodedLtx, type DecodedPage, type FrameInfo, type LtxSummary } from './decoder.js';
export { LtxReader, type LtxSource } from './reader.js';
export { compactLtx, checkCompactable, type CompactOptions } from './compactor.js';
export { formatLtxFilename, formatTXID, parseLtxFilename } from './filename.js';
