/**
 * Saves of a value persisted whole, folded: a save waits for the write in flight, then stores the value as
 * it is by then (`write` reads it when it starts) for every caller that asked meanwhile, so a burst of
 * changes costs one or two writes instead of one each (writing a whole list per change is O(N²)).
 * `soon()` asks for one save a macrotask later, once per burst of synchronous changes; `cancel()` drops a
 * save asked for that way and not started, and says whether there was one. `settled` resolves once every write asked for so far settled.
 * A failed write rejects the callers of that save only; the next save writes again.
 */
export const coalescedSave = (write: () => Promise<void>) => {
  let writing: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const save = (): Promise<void> => {
    queued ??= writing.then(() => {
      queued = null;
      const w = write();
      writing = w.catch(() => undefined);
      return w;
    });
    return queued;
  };
  return {
    save,
    soon: (): void => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void save().catch(() => undefined);
      }, 0);
    },
    cancel: (): boolean => {
      if (timer === undefined) return false;
      clearTimeout(timer);
      timer = undefined;
      return true;
    },
    settled: (): Promise<void> => (queued ?? writing).catch(() => undefined),
  };
};
