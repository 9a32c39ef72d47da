/*
 * The SQLite store's provider directory (types.ts `directory`) and providers' signed availability
 * (`availability`).
 *
 * Invariants:
 * - Search matches a lowercased substring of one field: the fields are stored joined by a separator no
 *   query holds (SEARCH_SEPARATOR), so a match never spans two. Pages follow (display name, account id).
 * - Availability keeps the highest version only: an older or equal one answers `stale` (or `same` for the
 *   identical entry) and changes nothing.
 *
 * Failure modes: malformed arguments → INVALID.
 */
import type { JsonObject, SyncStore } from './types';
import { rowToProvider } from './sqlite-rows';
import { invalid, requireText } from './store-checks';
import type { SqliteContext } from './sqlite-context';

// Lowercased fields joined by a character that cannot occur in a query, so a match never spans fields.
const SEARCH_SEPARATOR = '\u0001';

export const sqliteDirectory = ({ call }: SqliteContext): Pick<SyncStore, 'availability' | 'directory'> => ({
  availability: {
    put: (entry) =>
      call((s) => {
        requireText(entry.accountId, 'accountId');
        if (!Number.isSafeInteger(entry.version) || entry.version < 1)
          throw invalid('version must be a positive integer');
        const signed = JSON.stringify(entry.signed);
        const { changes } = s.availabilityPut.run(entry.accountId, entry.version, signed, entry.updatedAt);
        if (changes === 1) return { outcome: 'stored' as const, version: entry.version };
        const held = s.availabilityGet.get(entry.accountId);
        const version = held?.version ?? 0;
        const same = held !== undefined && version === entry.version && held.signed === signed;
        return { outcome: same ? ('same' as const) : ('stale' as const), version };
      }),
    get: (accountId) =>
      call((s) => {
        const row = s.availabilityGet.get(accountId);
        return row === undefined
          ? null
          : {
              accountId: row.account_id,
              version: row.version,
              signed: JSON.parse(row.signed) as JsonObject,
              updatedAt: row.updated_at,
            };
      }),
  },

  directory: {
    putProvider: (p) =>
      call((s) => {
        requireText(p.accountId, 'accountId');
        const searchText = [p.displayName, p.specialty, p.clinic, p.identifier]
          .map((field) => field.toLowerCase())
          .join(SEARCH_SEPARATOR);
        s.providerPut.run(
          p.accountId,
          p.displayName,
          p.specialty,
          p.clinic,
          p.identifier,
          p.contact ?? null,
          JSON.stringify(p.signed),
          p.updatedAt,
          searchText,
        );
      }),
    searchProviders: (q, limit, after) =>
      call((s) => {
        if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
        const needle = q.toLowerCase().replaceAll(SEARCH_SEPARATOR, '');
        const rows =
          after === undefined
            ? s.providerSearch.all(needle, limit)
            : s.providerSearchAfter.all(needle, after.displayName, after.accountId, limit);
        return rows.map(rowToProvider);
      }),
  },
});
