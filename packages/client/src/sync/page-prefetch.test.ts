import { describe, expect, it } from 'vitest';
import { createPagePrefetcher } from './page-prefetch';

interface Page {
  readonly request: number;
  readonly fetch: number;
  readonly missingKey: boolean;
}

/** A prefetcher over a fake server: requests are numbers, each fetch is counted and answered in order. */
const setup = (
  answer: (request: number, fetch: number) => Promise<Omit<Page, 'fetch'>> = async (r) => ({
    request: r,
    missingKey: false,
  }),
) => {
  const fetched: number[] = [];
  const pages = createPagePrefetcher<number, Page>({
    fetch: async (request) => {
      fetched.push(request);
      return { ...(await answer(request, fetched.length)), fetch: fetched.length };
    },
    keyOf: (request) => String(request),
    stale: (page) => page.missingKey,
  });
  return { pages, fetched };
};

describe('createPagePrefetcher', () => {
  it('answers a take with the prefetched page when the request is the same, once', async () => {
    const { pages, fetched } = setup();
    pages.prefetch(1);
    expect(await pages.take(1)).toEqual({ request: 1, fetch: 1, missingKey: false });
    // Taken: the next take of the same request fetches again.
    expect(await pages.take(1)).toEqual({ request: 1, fetch: 2, missingKey: false });
    expect(fetched).toEqual([1, 1]);
  });

  it('fetches afresh for another request, and drops the held page', async () => {
    const { pages, fetched } = setup();
    pages.prefetch(1);
    expect(await pages.take(2)).toMatchObject({ request: 2, fetch: 2 });
    expect(await pages.take(1)).toMatchObject({ request: 1, fetch: 3 });
    expect(fetched).toEqual([1, 2, 1]);
  });

  it('keeps only the latest prefetch', async () => {
    const { pages } = setup();
    pages.prefetch(1);
    pages.prefetch(2);
    expect(await pages.take(1)).toMatchObject({ request: 1, fetch: 3 });
  });

  it('asks again when the prefetched page had a document without its key', async () => {
    // The first answer lacks a key; by the second fetch the key has arrived.
    const { pages, fetched } = setup(async (request, fetch) => ({ request, missingKey: fetch === 1 }));
    pages.prefetch(1);
    expect(await pages.take(1)).toEqual({ request: 1, fetch: 2, missingKey: false });
    expect(fetched).toEqual([1, 1]);
  });

  it('treats a failed prefetch as a miss, and reports a failed fetch on take', async () => {
    let fail = true;
    const { pages } = setup(async (request) => {
      if (fail) throw new Error('socket closed');
      return { request, missingKey: false };
    });
    pages.prefetch(1);
    await Promise.resolve();
    fail = false;
    expect(await pages.take(1)).toMatchObject({ request: 1, fetch: 2 });
    fail = true;
    await expect(pages.take(1)).rejects.toThrow('socket closed');
  });
});
