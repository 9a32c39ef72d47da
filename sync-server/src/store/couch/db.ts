/*
 * The CouchDB store's access to one database: PouchDB's core with pouchdb-adapter-http (no hand-written
 * CouchDB client), wrapped in the few calls the store makes, each mapping failures to StoreError.
 *
 * | call       | CouchDB request                        | answers                                        |
 * | ---------- | -------------------------------------- | ---------------------------------------------- |
 * | get        | GET /db/id (conflicts=true)             | the doc, or null (404)                          |
 * | create     | PUT /db/id without _rev                 | true, or false when the id exists (409)         |
 * | put        | PUT /db/id with the _rev read           | true, or false when the rev is stale (409)      |
 * | getMany    | POST /db/_all_docs keys, include_docs   | id → doc of the ids that exist                  |
 * | range      | GET /db/_all_docs prefix range           | docs whose id starts with the prefix, in order  |
 * |            |                                          | (or a part of it: `startAfter`, `until`)        |
 * | bulk       | POST /db/_bulk_docs                      | per doc: ok, or conflict                         |
 * | remove     | POST /db/_all_docs keys, then _bulk_docs  | every leaf of the ids deleted (erasure)          |
 *
 * Document ids are `kind|part|part…`, each part percent-encoded, so `|` separates parts only and a prefix
 * range (`kind|a|` … `kind|a|\ufff0`) holds exactly the ids under it. Numbers in ids are zero-padded to
 * 16 digits, so id order is number order (CouchDB's `_all_docs` is in raw id order).
 *
 * Failure modes: a refused connection, a reset, a timeout or a 5xx → UNAVAILABLE (the store is unreachable,
 * nothing is assumed written); 400/413 → INVALID; anything else → INTERNAL.
 */
import { StoreError } from '../types';

/** A CouchDB document as the store writes it: `_id`, `_rev` once stored, and its own fields. */
export interface CouchDoc {
  _id: string;
  _rev?: string | undefined;
  _deleted?: boolean;
  _conflicts?: string[];
  [field: string]: unknown;
}

interface AllDocsRow {
  id: string;
  key: string;
  value?: { rev: string; deleted?: boolean };
  doc?: CouchDoc | null;
  error?: string;
}

interface ChangesFeed {
  on(event: 'change', listener: (change: { id: string; seq: unknown; doc?: CouchDoc }) => void): ChangesFeed;
  on(event: 'error', listener: (error: unknown) => void): ChangesFeed;
  on(event: 'complete', listener: () => void): ChangesFeed;
  cancel(): void;
}

/** What the store uses of a PouchDB database object. */
export interface PouchDbLike {
  get(id: string, options?: Record<string, unknown>): Promise<CouchDoc>;
  /** An attachment's bytes (a Blob over fetch, a Buffer in older adapters). */
  getAttachment(id: string, name: string, options?: { rev?: string | undefined }): Promise<Blob | Buffer>;
  put(doc: CouchDoc, options?: Record<string, unknown>): Promise<{ ok: boolean; id: string; rev: string }>;
  bulkDocs(
    docs: CouchDoc[],
    options?: Record<string, unknown>,
  ): Promise<
    Array<{ ok?: boolean; id?: string; rev?: string; error?: unknown; status?: number; name?: string }>
  >;
  allDocs(options: Record<string, unknown>): Promise<{ rows: AllDocsRow[]; total_rows?: number }>;
  changes(options: Record<string, unknown>): ChangesFeed;
  info(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export type { ChangesFeed };

const SEP = '|';
/** Attempts after the first when the connection itself fails. */
const RETRIES = 4;
/** Zero-padded decimal: id order is number order for 0 … 10^16 − 1. */
export const pad = (n: number): string => String(n).padStart(16, '0');
/** A document id from its kind and parts. */
export const key = (kind: string, ...parts: Array<string | number>): string =>
  [kind, ...parts.map((p) => (typeof p === 'number' ? pad(p) : encodeURIComponent(p)))].join(SEP);
/** The prefix of every id `key(kind, ...parts, …more)`. */
export const prefix = (kind: string, ...parts: Array<string | number>): string =>
  `${key(kind, ...parts)}${SEP}`;
/** The last part of an id, decoded. */
export const lastPart = (id: string): string => decodeURIComponent(id.slice(id.lastIndexOf(SEP) + 1));

const statusOf = (error: unknown): number | undefined => {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
};

/** A failure of the database (not an expected 404/409) as a StoreError. */
export const toStoreError = (error: unknown, what: string): StoreError => {
  if (error instanceof StoreError) return error;
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : JSON.stringify(error);
  if (status === undefined || status >= 500 || status === 408) {
    return new StoreError('UNAVAILABLE', `CouchDB unreachable (${what}): ${message}`, { cause: error });
  }
  if (status === 400 || status === 413) {
    return new StoreError('INVALID', `CouchDB refused ${what}: ${message}`, { cause: error });
  }
  return new StoreError('INTERNAL', `CouchDB failed ${what} (${status}): ${message}`, { cause: error });
};

export interface Db {
  readonly raw: PouchDbLike;
  get(id: string): Promise<CouchDoc | null>;
  create(doc: CouchDoc): Promise<boolean>;
  put(doc: CouchDoc): Promise<boolean>;
  getMany(ids: readonly string[]): Promise<Map<string, CouchDoc>>;
  range(
    from: string,
    options?: {
      descending?: boolean;
      limit?: number;
      startAfter?: string;
      /** The last id read (ascending; default: the end of the prefix). */
      until?: string;
      includeDocs?: boolean;
      /** Attachments' data inline (default: stubs). */
      attachments?: boolean;
    },
  ): Promise<CouchDoc[]>;
  bulk(docs: CouchDoc[]): Promise<Array<'ok' | 'conflict'>>;
  /**
   * Deletes the documents `ids` for good (a CouchDB delete, not a `gone` put): every leaf, so a conflicting
   * revision left by a partition does not become the winner. Idempotent; missing ids are skipped.
   */
  remove(ids: readonly string[]): Promise<void>;
}

/** Ids per request of `remove`. */
const REMOVE_PAGE = 500;

/**
 * `resolve`, when given, is asked for every document read with `_conflicts` (conflicts.ts `pickLeaf`) and
 * answers the revision to use; without it, CouchDB's winner is used.
 */
export const wrapDb = (
  raw: PouchDbLike,
  guard: () => void,
  resolve?: (raw: PouchDbLike, doc: CouchDoc) => Promise<CouchDoc>,
): Db => {
  const settled = async (doc: CouchDoc): Promise<CouchDoc> =>
    resolve !== undefined && doc._conflicts !== undefined && doc._conflicts.length > 0
      ? resolve(raw, doc)
      : doc;
  /**
   * Runs `work`, again up to RETRIES times after a failure of the connection itself (a reset keep-alive
   * socket, a refused connect): such a failure says nothing about whether a write landed, so every write
   * below is safe to repeat (a create checks its token on a 409, a put with a rev is refused once it landed
   * and its caller re-reads, a bulk's items are idempotent ops).
   */
  const run = async <T>(what: string, work: (retried: boolean) => Promise<T>): Promise<T> => {
    guard();
    for (let attempt = 0; ; attempt++) {
      try {
        return await work(attempt > 0);
      } catch (error) {
        if (
          attempt < RETRIES &&
          statusOf(error) === undefined &&
          !(error instanceof StoreError) &&
          !closedNow()
        ) {
          await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
          continue;
        }
        throw toStoreError(error, what);
      }
    }
  };
  const closedNow = (): boolean => {
    try {
      guard();
      return false;
    } catch {
      return true;
    }
  };
  return {
    raw,
    get: (id) =>
      run('a read', async () => {
        try {
          return await settled(await raw.get(id, { conflicts: true }));
        } catch (error) {
          if (statusOf(error) === 404) return null;
          throw error;
        }
      }),
    create: (doc) =>
      run('a write', async (retried) => {
        try {
          const result = await raw.put(doc);
          doc._rev = result.rev;
          return true;
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          // Our own earlier attempt may have landed before its connection failed: its token says so.
          if (retried && typeof doc.token === 'string') {
            const stored = await raw.get(doc._id);
            if (stored.token === doc.token) {
              doc._rev = stored._rev;
              return true;
            }
          }
          return false;
        }
      }),
    put: (doc) =>
      run('a write', async () => {
        try {
          const result = await raw.put(doc);
          doc._rev = result.rev;
          return true;
        } catch (error) {
          if (statusOf(error) === 409) return false;
          throw error;
        }
      }),
    getMany: (ids) =>
      run('a read', async () => {
        const found = new Map<string, CouchDoc>();
        if (ids.length === 0) return found;
        const { rows } = await raw.allDocs({ keys: [...new Set(ids)], include_docs: true, conflicts: true });
        for (const row of rows) if (row.doc) found.set(row.id, await settled(row.doc));
        return found;
      }),
    range: (from, options = {}) =>
      run('a read', async () => {
        const end = `${from}\ufff0`;
        const descending = options.descending ?? false;
        const query: Record<string, unknown> = {
          include_docs: options.includeDocs ?? true,
          conflicts: options.includeDocs ?? true,
          descending,
          startkey: descending ? end : (options.startAfter ?? from),
          endkey: descending ? from : (options.until ?? end),
        };
        if (options.startAfter !== undefined && !descending) query.skip = 0;
        if (options.attachments === true) query.attachments = true;
        if (options.limit !== undefined)
          query.limit = options.limit + (options.startAfter === undefined ? 0 : 1);
        const { rows } = await raw.allDocs(query);
        const docs: CouchDoc[] = [];
        for (const row of rows) {
          if (options.startAfter !== undefined && row.id === options.startAfter) continue;
          if (options.includeDocs === false) docs.push({ _id: row.id, _rev: row.value?.rev ?? '' });
          else if (row.doc) docs.push(await settled(row.doc));
        }
        return options.limit === undefined ? docs : docs.slice(0, options.limit);
      }),
    bulk: (docs) =>
      run('a write', async () => {
        if (docs.length === 0) return [];
        const results = await raw.bulkDocs(docs);
        return results.map((r, i) => {
          if (r.ok === true || (r.error === undefined && r.rev !== undefined)) {
            const doc = docs[i];
            if (doc && r.rev !== undefined) doc._rev = r.rev;
            return 'ok';
          }
          if (r.status === 409 || r.name === 'conflict') return 'conflict';
          throw toStoreError(r, 'a write');
        });
      }),
    remove: (ids) =>
      run('a removal', async () => {
        const all = [...new Set(ids)];
        for (let i = 0; i < all.length; i += REMOVE_PAGE) {
          const page = all.slice(i, i + REMOVE_PAGE);
          // Deleting a winner makes a conflicting leaf the winner: read again until no page id is live.
          for (let round = 0; ; round++) {
            const { rows } = await raw.allDocs({ keys: page });
            const live = rows.filter((r) => r.value !== undefined && r.value.deleted !== true);
            if (live.length === 0) break;
            if (round > 50) throw new StoreError('UNAVAILABLE', 'documents keep changing while erased');
            await raw.bulkDocs(live.map((r) => ({ _id: r.id, _rev: r.value?.rev, _deleted: true })));
          }
        }
      }),
  };
};

export const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
export const fromBase64 = (text: string): Uint8Array => {
  const buf = Buffer.from(text, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};
