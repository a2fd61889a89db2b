// The read path's page cache: pages by page number, least recently used first out
// (approximately), within a byte budget (LITESTREAM_CACHE_SIZE, 64 MiB by default).
// A Map keeps insertion order and the oldest entry is the first key, so "used" would
// be delete + set; but that costs ~800 ns a hit on a large Map against ~100 ns for a
// bare get, and hits are the warm path. So a hit moves an entry to the young end only
// when more than a quarter of the cache has been inserted since it last moved: hot
// pages stay far from eviction, and a steady warm workload moves nothing.

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

interface Entry<V> {
  value: V;
  stamp: number; // #clock when it was inserted or last moved
}

/** Values are pages (Uint8Array) or anything else with a byte `length`. */
export class PageCache<V extends { readonly length: number } = Uint8Array> {
  readonly #pages = new Map<number, Entry<V>>();
  readonly #capacity: number;
  #bytes = 0;
  #clock = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /** `capacity` in bytes; 0 caches nothing (every read goes to the store). */
  constructor(capacity: number) {
    if (!Number.isFinite(capacity) || capacity < 0) throw new TypeError(`PageCache: capacity must be a number of bytes ≥ 0, got ${String(capacity)}`);
    this.#capacity = capacity;
  }

  /** The page, counted as a hit or a miss. */
  get(pgno: number): V | undefined {
    const e = this.#pages.get(pgno);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (this.#clock - e.stamp > this.#pages.size >> 2) {
      this.#pages.delete(pgno);
      e.stamp = this.#clock;
      this.#pages.set(pgno, e);
    }
    return e.value;
  }

  /** True if held; neither a hit nor a miss, and does not refresh the page. */
  has(pgno: number): boolean {
    return this.#pages.has(pgno);
  }

  /** Keep `data` (not copied: the caller must not change it) and evict the oldest pages over budget. */
  set(pgno: number, data: V): void {
    const old = this.#pages.get(pgno);
    if (old !== undefined) {
      this.#bytes -= old.value.length;
      this.#pages.delete(pgno);
    }
    if (data.length > this.#capacity) return;
    this.#pages.set(pgno, { value: data, stamp: ++this.#clock });
    this.#bytes += data.length;
    while (this.#bytes > this.#capacity) {
      const [oldest, e] = this.#pages.entries().next().value as [number, Entry<V>];
      this.#bytes -= e.value.length;
      this.#pages.delete(oldest);
      this.#evictions++;
    }
  }

  /** Forget one page (a newer version replaced it). */
  delete(pgno: number): void {
    const old = this.#pages.get(pgno);
    if (old === undefined) return;
    this.#bytes -= old.value.length;
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
