/**
 * The versions a connection pushed, so that live delivery does not echo them back to it (hub.ts): the
 * device has them already, and decoding its own pushes cost it a frame, a parse and a lookup per record.
 *
 * | step | what | when |
 * | --- | --- | --- |
 * | `note(rows)` | remembers each row's (stream, id, rev) | before the push is handed to the service |
 * | `settle(rows, results)` | forgets the rows the store did not take | once the push is answered |
 * | `take(docs)` | the docs that are not this connection's, forgetting those that were | each live page |
 *
 * Invariants
 * - Only the exact version pushed on this connection is withheld: another device of the account, or this
 *   device on another connection, still receives it; a version met as a conflict (another rev) is sent.
 * - Withholding never moves a position by itself: the hub still sends the page's checkpoint (a frame with
 *   the remaining docs, possibly none), so the device's positions move as they did with the echo.
 * - At most MAX_OWN_PUSHES versions are remembered (the oldest forgotten first): a forgotten one is sent,
 *   which the device recognises as its own echo (sent.ts), as before this existed.
 */
import { MAX_BATCH_DOCS, type PushResult } from '@hale/protocol';

/** Versions remembered per connection: a few whole frames in flight. */
export const MAX_OWN_PUSHES = 4 * MAX_BATCH_DOCS;

interface Version {
  readonly stream: string;
  readonly id: string;
  readonly rev: string;
}

const keyOf = (v: Version): string => `${v.stream}\n${v.id}\n${v.rev}`;

export interface OwnPushes {
  note(rows: readonly { readonly doc: Version }[]): void;
  /** Keeps, of `rows`, only the versions `results` say were stored (`ok`; another status names no version). */
  settle(rows: readonly { readonly doc: Version }[], results: readonly PushResult[]): void;
  /** `docs` without this connection's own pushes (the same array when none is). */
  take<D extends Version>(docs: D[]): D[];
  readonly size: number;
}

export const createOwnPushes = (): OwnPushes => {
  const own = new Set<string>();
  return {
    note(rows) {
      for (const row of rows) {
        const key = keyOf(row.doc);
        own.delete(key);
        own.add(key);
      }
      // A Set iterates in insertion order: the oldest go first.
      for (const key of own) {
        if (own.size <= MAX_OWN_PUSHES) break;
        own.delete(key);
      }
    },
    settle(rows, results) {
      for (const row of rows) own.delete(keyOf(row.doc));
      for (const r of results) if (r.status === 'ok') own.add(keyOf(r));
    },
    take<D extends Version>(docs: D[]): D[] {
      if (own.size === 0) return docs;
      let rest: D[] | null = null;
      docs.forEach((doc, i) => {
        const key = keyOf(doc);
        if (!own.has(key)) {
          rest?.push(doc);
          return;
        }
        own.delete(key);
        rest ??= docs.slice(0, i);
      });
      return rest ?? docs;
    },
    get size() {
      return own.size;
    },
  };
};
