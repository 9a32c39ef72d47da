// Test seam: a SyncStore whose next call of an armed read, once the store answered it, runs a step of the
// test before its caller gets the answer. So a test can put a change (a revocation committed, the clock
// moved) exactly between a read a request decides or serves from and what the request does next: by
// ordering, not timing. Every other call goes to the store unchanged.
import type { SyncStore } from '../store/index';

/**
 * Reads a test can hold: the documents a pull serves, the grants a decision is made from, the envelopes a
 * key fetch hands out, the chunk a download serves.
 */
export type HeldRead = 'readDocs' | 'listUnendedFrom' | 'listEnvelopes' | 'getChunk';

export const heldReads = (store: SyncStore) => {
  let armed: { read: HeldRead; step: () => Promise<void> | void; done: () => void } | null = null;
  const after = async <T>(read: HeldRead, answer: T): Promise<T> => {
    const held = armed;
    if (held === null || held.read !== read) return answer;
    armed = null;
    await held.step();
    held.done();
    return answer;
  };
  const wrapped: SyncStore = {
    ...store,
    docs: {
      ...store.docs,
      readDocs: async (...args) => after('readDocs', await store.docs.readDocs(...args)),
    },
    grants: {
      ...store.grants,
      listUnendedFrom: async (...args) =>
        after('listUnendedFrom', await store.grants.listUnendedFrom(...args)),
    },
    envelopes: {
      ...store.envelopes,
      list: async (...args) => after('listEnvelopes', await store.envelopes.list(...args)),
    },
    blobs: {
      ...store.blobs,
      getChunk: async (...args) => after('getChunk', await store.blobs.getChunk(...args)),
    },
  };
  /** Runs `step` after the next `read` answered, before its caller resumes; resolves once it ran. */
  const arm = (read: HeldRead, step: () => Promise<void> | void): Promise<void> =>
    new Promise<void>((done) => {
      armed = { read, step, done };
    });
  return { store: wrapped, arm };
};
