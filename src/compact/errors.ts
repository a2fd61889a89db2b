// The error of a compaction pass that found the replica in a state it must not
// change (damaged inputs, an existing output that disagrees with its name, a
// deletion that would break the latest restore plan).
export class CompactionError extends Error {
  override name = 'CompactionError';
}
