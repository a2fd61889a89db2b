// PageSums: the database checksum from checksums taken while decoding, with pages that
// no slot vouches for (resumed, or written by a file that lost them) read back.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileMeta } from '../../src/hydrate/file-meta.js';
import { PageSums } from '../../src/hydrate/page-sums.js';
import type { Winners } from '../../src/hydrate/winners.js';
import { databaseChecksum, pageChecksum } from '../../src/ltx/index.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';

afterAll(removeTempDirs);

const PS = 512;
const PAGES = 40;
const meta = (key: string) => ({ file: { key, size: 1000 }, fileChecksum: 7n }) as unknown as FileMeta;
const page = (image: Uint8Array, p: number) => image.subarray((p - 1) * PS, p * PS);

async function setup() {
  const image = new Uint8Array(randomBytes(PAGES * PS));
  const file = path.join(tempDir('page-sums'), 'db');
  writeFileSync(file, image);
  const metas = [meta('a'), meta('b')];
  // File b (index 1) wins the even pages, a the odd ones.
  const winner = new Int32Array(PAGES + 1).fill(-1);
  for (let p = 1; p <= PAGES; p++) winner[p] = p % 2 === 0 ? 1 : 0;
  const winners: Winners = { winner, commit: PAGES, pageSize: PS, missing: 0 };
  return { image, fh: await open(file, 'r'), metas, winners, want: databaseChecksum(image, PS) };
}

describe('PageSums', () => {
  it('sums slots of the winners, and reads back pages no slot vouches for', async () => {
    const { image, fh, metas, winners, want } = await setup();
    try {
      const all = new PageSums();
      for (let p = 1; p <= PAGES; p++) all.set(metas[winners.winner[p]], p, pageChecksum(p, page(image, p)));
      expect(await all.value(fh, metas, winners)).toBe(want);

      // Resumed: no slot for pages 5..20; a slot from the loser (b wrote odd page 21 first).
      const some = new PageSums();
      for (let p = 1; p <= PAGES; p++) if (p < 5 || p > 20) some.set(metas[winners.winner[p]], p, pageChecksum(p, page(image, p)));
      some.set(metas[1], 21, 12345n);
      expect(await some.value(fh, metas, winners)).toBe(want);

      // Nothing set: all read back, the same as a full pass.
      expect(await new PageSums().value(fh, metas, winners)).toBe(want);
    } finally {
      await fh.close();
    }
  });

  it('trusts a winner slot (no re-read): a wrong sum there changes the result', async () => {
    const { image, fh, metas, winners, want } = await setup();
    try {
      const sums = new PageSums();
      for (let p = 1; p <= PAGES; p++) sums.set(metas[winners.winner[p]], p, pageChecksum(p, page(image, p)));
      sums.set(metas[0], 3, pageChecksum(3, new Uint8Array(PS)));
      expect(await sums.value(fh, metas, winners)).not.toBe(want);
    } finally {
      await fh.close();
    }
  });
});
