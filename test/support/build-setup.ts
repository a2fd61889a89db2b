// Vitest global setup: compile src/ to dist/ once, before any test file runs, so
// tests that spawn the CLI never race a build (`npm test` has built already; then
// this is a no-op).
import { ensureBuilt } from './cli.js';

export default function setup(): void {
  ensureBuilt();
}
