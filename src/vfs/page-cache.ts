// The read path's page cache: decoded pages by page number, least recently used
// first out, within a byte budget (LITESTREAM_CACHE_SIZE, 64 MiB by default). A
// Map keeps insertion order, so "used" = delete + set, and the oldest entry is the
// first key: O(1) for get, set and eviction.

export interface PageCacheStats {
  hits: number;
  misses: number;
  /** Pages evicted to stay within the budget. */
  evictions: number;
  /** Pages held now. */
  pages: number;
  /** Bytes held now (page data only). */
  bytes: number;
  /** The budget, in bytes. */
  capacity: number;
}

export class PageCache {
  readonly #pages = new Map<number, Uint8Array>();
  readonly #capacity: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /** `capacity` in bytes; 0 caches nothing (every read goes to the store). */
  constructor(capacity: number) {
    if (!Number.isFinite(capacity) || capacity < 0) throw new TypeError(`PageCache: capacity must be a number of bytes ≥ 0, got ${String(capacity)}`);
    this.#capacity = capacity;
  }

  /** The page, counted as a hit or a miss. */
  get(pgno: number): Uint8Array | undefined {
    const data = this.#pages.get(pgno);
    if (data === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#pages.delete(pgno);
    this.#pages.set(pgno, data);
    return data;
  }

  /** True if held; neither a hit nor a miss, and does not refresh the page. */
  has(pgno: number): boolean {
    return this.#pages.has(pgno);
  }

  /** Keep `data` (not copied: the caller must not change it) and evict the oldest pages over budget. */
  set(pgno: number, data: Uint8Array): void {
    const old = this.#pages.get(pgno);
    if (old !== undefined) {
      this.#bytes -= old.length;
      this.#pages.delete(pgno);
    }
    if (data.length > this.#capacity) return;
    this.#pages.set(pgno, data);
    this.#bytes += data.length;
    while (this.#bytes > this.#capacity) {
      const oldest = this.#pages.keys().next().value as number;
      this.#bytes -= this.#pages.get(oldest)!.length;
      this.#pages.delete(oldest);
      this.#evictions++;
    }
  }

  /** Forget one page (a newer version replaced it). */
  delete(pgno: number): void {
    const old = this.#pages.get(pgno);
    if (old === undefined) return;
    this.#bytes -= old.length;
    this.#pages.delete(pgno);
  }

  clear(): void {
    this.#pages.clear();
    this.#bytes = 0;
  }

  stats(): PageCacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions, pages: this.#pages.size, bytes: this.#bytes, capacity: this.#capacity };
  }
}
