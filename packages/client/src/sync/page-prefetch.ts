/**
 * One page of an initial sync fetched ahead, while RxDB stores the current one.
 *
 * Invariants:
 * - At most one page is held; taking it (hit or miss) or prefetching again drops it.
 * - A held page is used only if it was asked with a request of exactly the same key (cursors and
 *   limit) as the one that takes it; nothing about it is applied before that.
 * - A held page that failed, or that `stale` rejects (documents decoded without a key that may have
 *   arrived since), is fetched again instead of being used.
 * Failure modes: a failed prefetch never surfaces by itself (it is only a missed shortcut); a failed
 * fetch on take rejects the take.
 */
export interface PagePrefetcher<Request, Page> {
  /** Starts fetching the page for `request`, dropping any held page. */
  prefetch(request: Request): void;
  /** The held page if it answers the same request and is usable, else a fresh fetch. */
  take(request: Request): Promise<Page>;
}

export function createPagePrefetcher<Request, Page>(options: {
  fetch: (request: Request) => Promise<Page>;
  keyOf: (request: Request) => string;
  stale: (page: Page) => boolean;
}): PagePrefetcher<Request, Page> {
  const { fetch, keyOf, stale } = options;
  let held: { key: string; page: Promise<Page> } | null = null;
  return {
    prefetch(request) {
      const page = fetch(request);
      page.catch(() => undefined);
      held = { key: keyOf(request), page };
    },
    async take(request) {
      const hit = held?.key === keyOf(request) ? held.page : null;
      held = null;
      if (hit) {
        try {
          const page = await hit;
          if (!stale(page)) return page;
        } catch {
          // fetched again below
        }
      }
      return fetch(request);
    },
  };
}
