import { SyncError } from './connection';

/** One page of a keyset-paged listing: its rows and, when more follow, the cursor of the next page. */
export interface Page<T> {
  readonly rows: readonly T[];
  readonly next?: string | undefined;
}

/**
 * Reads a keyset-paged listing page after page, each asked with the previous page's `next`, until a page
 * names none; every row, in order. A server still answering `next` after `maxPages` pages is not followed:
 * SyncError TOO_LARGE with `tooMany` as its message (not retryable).
 */
export const readPages = async <T>(
  ask: (cursor: string | undefined) => Promise<Page<T>>,
  maxPages: number,
  tooMany: string,
): Promise<T[]> => {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const reply = await ask(cursor);
    all.push(...reply.rows);
    if (reply.next === undefined) return all;
    cursor = reply.next;
  }
  throw new SyncError('TOO_LARGE', tooMany, false);
};
