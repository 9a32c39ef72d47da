/**
 * In-process locks by key: the answer waits for exclusive use of every key given and returns the release.
 * Keys are taken in sorted order, so two callers naming the same keys cannot wait on each other. They hold
 * within one process only (one process per store, as the sync service requires).
 */
export const keyedLocks = () => {
  // Tail of each key's queue; removed when the last holder is done.
  const locks = new Map<string, Promise<void>>();
  return async (keys: string[]): Promise<() => void> => {
    const releases: Array<() => void> = [];
    for (const key of [...new Set(keys)].sort()) {
      const previous = locks.get(key) ?? Promise.resolve();
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => held);
      locks.set(key, tail);
      await previous;
      releases.push(() => {
        release();
        if (locks.get(key) === tail) locks.delete(key);
      });
    }
    return () => releases.forEach((release) => release());
  };
};
