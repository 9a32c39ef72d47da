/**
 * The provider directory search as a screen binds it (`directory.results(q)`): one Observed per query,
 * the first page read when something first listens, `more()` reading the next one.
 *
 * | field | meaning |
 * |---|---|
 * | `status` | `idle` (nothing asked yet), `searching`, `done`, `failed` |
 * | `providers` | every verified entry read so far, pages in order |
 * | `dropped` | entries whose signature did not verify (left out) |
 * | `hasMore` | the server has another page (`more()` reads it) |
 * | `error` | the HaleError of the last failed page (offline: HaleClientError NETWORK); null otherwise, and for a failure that is no HaleError (a bug) |
 *
 * Invariants: one page read at a time (`more()` while searching does nothing); a failed page keeps what
 * was read and `more()` tries it again; an empty query asks nothing and stays `done` with no providers.
 */
import { defer } from 'rxjs';
import type { VerifiedProvider } from '../account/account';
import type { HaleError } from '../core/hale-error';
import { isHaleError } from '../core/hale-error';
import { observedValue, type Observed } from '../core/observed';

/** A provider directory search's state: query, status and verified results. */
export interface ProviderSearch {
  readonly query: string;
  readonly status: 'idle' | 'searching' | 'done' | 'failed';
  readonly providers: readonly VerifiedProvider[];
  readonly dropped: number;
  readonly hasMore: boolean;
  readonly error: HaleError | null;
}

export type SearchPage = (
  q: string,
  options?: { limit?: number; cursor?: string },
) => Promise<{ providers: VerifiedProvider[]; dropped: number; next?: string }>;

export function providerSearch(
  search: SearchPage,
  query: string,
  limit: number | undefined,
): Observed<ProviderSearch> & { readonly more: () => void } {
  const q = query.trim();
  const value = observedValue<ProviderSearch>({
    query: q,
    status: q === '' ? 'done' : 'idle',
    providers: [],
    dropped: 0,
    hasMore: q !== '',
    error: null,
  });
  let cursor: string | undefined;
  let busy = false;
  const more = (): void => {
    const now = value.get();
    if (busy || !now.hasMore) return;
    busy = true;
    value.set({ ...now, status: 'searching', error: null });
    // `busy` ends before the page is shown: a listener calling more() at once is heard.
    void search(q, {
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    }).then(
      (page) => {
        busy = false;
        cursor = page.next;
        const was = value.get();
        value.set({
          ...was,
          status: 'done',
          providers: [...was.providers, ...page.providers],
          dropped: was.dropped + page.dropped,
          hasMore: page.next !== undefined,
        });
      },
      (e: unknown) => {
        busy = false;
        value.set({ ...value.get(), status: 'failed', error: isHaleError(e) ? e : null });
      },
    );
  };
  // The first page is read when something first listens (or reads `$`).
  const start = (): void => {
    if (value.get().status === 'idle') more();
  };
  return {
    get: value.get,
    error: value.error,
    loaded: value.loaded,
    subscribe: (listener) => {
      const stop = value.subscribe(listener);
      start();
      return stop;
    },
    $: defer(() => {
      start();
      return value.$;
    }),
    more,
  };
}
