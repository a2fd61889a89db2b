// Public surface of the hydrator: a verified local copy of a replica, built with
// parallel range GETs, resumable after a crash, reused and brought forward later.
export { hydrate, hydrationTempPaths, HYDRATE_CHUNK_BYTES, HYDRATE_CONCURRENCY, HYDRATE_REQUEST_BYTES, type HydrateOptions } from './hydrator.js';
export { applyLtxFiles, type ApplyOptions } from './apply.js';
export { readSidecar, sidecarPath, type Sidecar, type SidecarIdentity } from './sidecar.js';
export { HydrationError, isHydrationError, type HydrationErrorCode } from './errors.js';
export type { HydratedFile, HydrationProgress, HydrationStats } from './types.js';
