/**
 * Tells an account's connected devices that its passphrase wrap changed: the PUT wrapped-root route
 * announces each accepted generation, the sync socket of every other device of that account (on a
 * protocol version that has `wrappedRootChanged`) listens.
 *
 * Invariants: a notice carries only the generation (never the wrap: the device fetches and verifies that
 * itself over HTTP); it is announced after the store committed the change, so a device that fetches on
 * receipt gets that generation or a newer one; the device whose session made the change is not told (it
 * holds the wrap already, and telling it would race its own vault write). A listener that throws does not
 * stop the others.
 * Failure modes: in-process only — a device connected to another node of a multi-node deployment, or
 * disconnected at the time, learns the generation from `ready.wrappedRootGen` at its next connection
 * (at the latest when its session expires, SESSION_TTL_MS).
 */

export type WrappedRootListener = (gen: number) => void;

export interface WrappedRootNotices {
  /** Follows `accountId`'s wrap for one connection of `deviceId`; call the answer to stop. */
  watch(accountId: string, deviceId: string, listener: WrappedRootListener): () => void;
  /** The account's wrap is now generation `gen`, changed through a session of `byDeviceId`. */
  changed(accountId: string, gen: number, byDeviceId: string): void;
  /** Connections following some account (for tests). */
  size(): number;
}

export const createWrappedRootNotices = (
  onError: (error: unknown) => void = () => undefined,
): WrappedRootNotices => {
  const byAccount = new Map<string, Set<{ deviceId: string; listener: WrappedRootListener }>>();
  return {
    watch(accountId, deviceId, listener) {
      const entry = { deviceId, listener };
      let set = byAccount.get(accountId);
      if (!set) {
        set = new Set();
        byAccount.set(accountId, set);
      }
      set.add(entry);
      return () => {
        const current = byAccount.get(accountId);
        if (!current) return;
        current.delete(entry);
        if (current.size === 0) byAccount.delete(accountId);
      };
    },
    changed(accountId, gen, byDeviceId) {
      for (const { deviceId, listener } of [...(byAccount.get(accountId) ?? [])]) {
        if (deviceId === byDeviceId) continue;
        try {
          listener(gen);
        } catch (error) {
          onError(error);
        }
      }
    },
    size: () => [...byAccount.values()].reduce((n, set) => n + set.size, 0),
  };
};
