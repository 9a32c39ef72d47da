/**
 * Providers' signed availability on CouchDB: one document per provider (`V|<accountId>`).
 *
 * | invariant | how |
 * |---|---|
 * | only a higher version replaces the stored one | read, compare, then `put` on the read `_rev` (CAS); a lost race reads again |
 * | the same document again is `same`, a lower or equal other one `stale` | compared on the read that won |
 */
import type { AvailabilityEntry, JsonObject, SyncStore } from '../types';
import { key, type Db } from './db';
import { isGone } from './ops';
import { invalid, requireText } from '../store-checks';

export const couchAvailability = (data: Db): SyncStore['availability'] => ({
  put: async (entry) => {
    requireText(entry.accountId, 'accountId');
    if (!Number.isSafeInteger(entry.version) || entry.version < 1)
      throw invalid('version must be a positive integer');
    const id = key('V', entry.accountId);
    const signed = JSON.stringify(entry.signed);
    for (;;) {
      const current = await data.get(id);
      const held = current === null || isGone(current) ? null : current;
      const version = typeof held?.version === 'number' ? held.version : 0;
      if (held !== null && entry.version <= version) {
        const same = entry.version === version && held.signed === signed;
        return { outcome: same ? 'same' : 'stale', version };
      }
      const doc = {
        _id: id,
        version: entry.version,
        signed,
        updatedAt: entry.updatedAt,
        ...(current?._rev === undefined ? {} : { _rev: current._rev }),
      };
      if (await data.put(doc)) return { outcome: 'stored', version: entry.version };
    }
  },
  get: async (accountId) => {
    const doc = await data.get(key('V', accountId));
    if (doc === null || isGone(doc)) return null;
    const entry: AvailabilityEntry = {
      accountId,
      version: doc.version as number,
      signed: JSON.parse(doc.signed as string) as JsonObject,
      updatedAt: doc.updatedAt as string,
    };
    return entry;
  },
});
