// Which file of a plan supplies each page of the result: the newest file holding
// the page wins, and a file whose commit is smaller than the database so far
// truncates it (pages above its commit are gone until a later file writes them),
// exactly what applying the files one by one does. So each page is written once,
// from its winning file, and chunks may arrive in any order.
import { lockPage } from '../ltx/index.js';
import type { FileMeta } from './file-meta.js';

export interface Winners {
  /** winner[pgno] = index of the plan file, or -1 (zeros: never written, or the lock page). */
  winner: Int32Array;
  commit: number;
  pageSize: number;
  /** Pages 1..commit (lock page excluded) that no file supplies. */
  missing: number;
}

export function computeWinners(metas: readonly FileMeta[]): Winners {
  let max = 0;
  for (const m of metas) max = Math.max(max, m.header.commit);
  const winner = new Int32Array(max + 1).fill(-1);
  let commit = 0;
  metas.forEach((m, i) => {
    for (const e of m.entries) winner[e.pgno] = i;
    for (let p = m.header.commit + 1; p <= commit; p++) winner[p] = -1;
    commit = m.header.commit;
  });
  const pageSize = metas[metas.length - 1].header.pageSize;
  const lock = lockPage(pageSize);
  let missing = 0;
  for (let p = 1; p <= commit; p++) if (winner[p] === -1 && p !== lock) missing++;
  return { winner, commit, pageSize, missing };
}
