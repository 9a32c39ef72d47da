import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  fillWithDefaultSettings,
  getChangedDocumentsSince,
  normalizeMangoQuery,
  now,
  prepareQuery,
} from 'rxdb';
import type { EventBulk, MangoQuery, RxDocumentData, RxJsonSchema, RxStorageChangeEvent } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { RX_LOCAL_DOCUMENT_SCHEMA, getCollectionLocalInstanceName } from 'rxdb/plugins/local-documents';
import { assertJsonValue, useSecretbox } from '@hale/crypto';
import type { CryptoOffload } from '../offload/crypto-offload';
import {
  AT_REST_RECENT_VALUES,
  isAtRestError,
  runAtRestJob,
  wrapWithAtRestEncryption,
  wrapWithoutAtRestKey,
  type AtRestJob,
} from './at-rest-encryption';
import {
  expectAtRest,
  flipAt,
  insertAll,
  naclLowLevel,
  openInstance,
  rawGet,
  rawReplace,
  rawSchemaOf,
  type Raw,
} from './at-rest.test-util';

interface Doc {
  id: string;
  tag: string;
  secret: { note: string; n?: number };
  other: { note: string } | null;
}

const SCHEMA: RxJsonSchema<RxDocumentData<Doc>> = fillWithDefaultSettings<Doc>({
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 40 },
    tag: { type: 'string', maxLength: 40 },
    secret: { type: 'object' },
    other: { type: ['object', 'null'] },
  },
  required: ['id', 'tag', 'secret', 'other'],
  encrypted: ['secret', 'other'],
  indexes: ['tag'],
});

// What the inner storage really holds: encrypted fields are strings.
const RAW_SCHEMA = rawSchemaOf(SCHEMA);

const MARKER = 'PLAINTEXT-MARKER-7c1f';
let dbCounter = 0;
const key = (fill: number) => new Uint8Array(32).fill(fill);

function doc(id: string, note: string, rev = '1-aaaa', other: Doc['other'] = null): RxDocumentData<Doc> {
  return {
    id,
    tag: 'clear-tag',
    secret: { note },
    other,
    _rev: rev,
    _deleted: false,
    _attachments: {},
    _meta: { lwt: now() },
  };
}

function allQuery<T>(schema: RxJsonSchema<RxDocumentData<T>>, query: MangoQuery<T> = {}) {
  return prepareQuery(schema, normalizeMangoQuery(schema, { selector: {}, ...query }));
}

async function setup() {
  const dbName = `atrest${++dbCounter}`;
  const base = getRxStorageMemory();
  const storage = wrapWithAtRestEncryption({ storage: base, key: key(1) });
  const instance = await openInstance<Doc>(storage, dbName, SCHEMA);
  const raw = await openInstance<Raw>(base, dbName, RAW_SCHEMA);
  return { dbName, base, storage, instance, raw };
}

// Opens and seals are counted on tweetnacl's low-level box: a file before this one in the worker may have
// installed libsodium's (openHale on nodePlatform), which gives the same bytes without calling it.
beforeEach(() => useSecretbox(null));

describe('wrapWithAtRestEncryption', () => {
  it('refuses keys that are not 32 bytes', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33)]) {
      expect(() => wrapWithAtRestEncryption({ storage: getRxStorageMemory(), key: bad })).toThrow(
        expect.objectContaining({ code: 'AT_REST_INVALID_KEY' }),
      );
    }
  });

  it('stores only v1 envelopes for encrypted fields and keeps the rest clear', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER, '1-a', { note: MARKER }) }], 'test');
    const stored = await rawGet(raw, 'a');
    expect(stored.tag).toBe('clear-tag');
    expect(stored.secret).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(stored.other).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(stored)).not.toContain(MARKER);
    expect(JSON.stringify(stored)).not.toContain('note');
  });

  it('uses a fresh nonce for every seal', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', 'same') }, { document: doc('b', 'same') }], 'test');
    const a = await rawGet(raw, 'a');
    await instance.bulkWrite([{ document: doc('c', 'same', a._rev) }], 'test');
    const c = await rawGet(raw, 'c');
    // Same content, different context and nonce: the envelopes must not repeat.
    expect(a.secret).not.toBe(c.secret);
    expect(a.secret).not.toBe((await rawGet(raw, 'b')).secret);
  });

  it('decrypts on findDocumentsById, query, count, getChangedDocumentsSince and changeStream', async () => {
    const { instance } = await setup();
    const events: EventBulk<RxStorageChangeEvent<Doc>, unknown>[] = [];
    const sub = instance.changeStream().subscribe((bulk) => events.push(bulk));
    // Lengths that exercise every base64url tail (0, 1, 2 leftover bytes).
    const notes = [MARKER, `${MARKER}x`, `${MARKER}xy`, ''];
    await instance.bulkWrite(
      notes.map((note, i) => ({ document: doc(`d${i}`, note) })),
      'test',
    );
    sub.unsubscribe();

    const byId = await instance.findDocumentsById(['d0', 'd1', 'd2', 'd3'], false);
    expect(byId.map((d) => d.secret.note).sort()).toEqual([...notes].sort());

    const queried = await instance.query(allQuery(SCHEMA, { selector: { tag: 'clear-tag' } }));
    expect(queried.documents.map((d) => d.secret.note).sort()).toEqual([...notes].sort());
    expect((await instance.count(allQuery(SCHEMA, { selector: { tag: 'clear-tag' } }))).count).toBe(4);

    // Uses the storage's own method when it has one, else a query: both pass through the wrapper.
    const changed = await getChangedDocumentsSince(instance, 10);
    expect(changed.documents.map((d) => d.secret.note).sort()).toEqual([...notes].sort());

    const evDocs = events.flatMap((b) => b.events.map((e) => e.documentData));
    expect(evDocs.map((d) => d.secret.note).sort()).toEqual([...notes].sort());
    expect(evDocs.every((d) => d.other === null)).toBe(true);
  });

  it('errors the change stream on an undecryptable event without stalling later writes', async () => {
    const { instance, raw } = await setup();
    const errors: unknown[] = [];
    const sub = instance.changeStream().subscribe({ error: (e: unknown) => errors.push(e) });
    const garbage = { ...doc('x', ''), secret: 'v1.AAAAAAAA', other: 'v1.AAAAAAAA' };
    await raw.bulkWrite([{ document: garbage }], 'tamper');
    sub.unsubscribe();
    expect(errors).toHaveLength(1);
    expect(isAtRestError(errors[0], 'AT_REST_DECRYPT_FAILED')).toBe(true);
    const later = await instance.bulkWrite([{ document: doc('b', MARKER) }], 'test');
    expect(later.error).toEqual([]);
  }, 5_000);

  it('decrypts the document returned in a write conflict', async () => {
    const { instance } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER, '1-a') }], 'test');
    const result = await instance.bulkWrite(
      [{ previous: doc('a', 'stale', '1-zzzz'), document: doc('a', 'mine', '2-b') }],
      'test',
    );
    expect(result.error).toHaveLength(1);
    const conflict = result.error[0];
    expect(conflict?.status).toBe(409);
    if (conflict?.status !== 409) return;
    expect(conflict.documentInDb?.secret.note).toBe(MARKER);
    expect(conflict.writeRow.document.secret.note).toBe('mine');
  });

  it('raises AT_REST_DECRYPT_FAILED with a wrong key on every read path', async () => {
    const { base, dbName, instance } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    const wrong = await openInstance<Doc>(
      wrapWithAtRestEncryption({ storage: base, key: key(2) }),
      dbName,
      SCHEMA,
    );
    await expectAtRest(
      wrong.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'AUTH_FAILED',
      MARKER,
    );
    await expectAtRest(wrong.query(allQuery(SCHEMA)), 'AT_REST_DECRYPT_FAILED', 'AUTH_FAILED', MARKER);
    await expectAtRest(getChangedDocumentsSince(wrong, 10), 'AT_REST_DECRYPT_FAILED', 'AUTH_FAILED', MARKER);
  });

  it('detects a tampered ciphertext', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    // Inside the box, past the prefix and nonce.
    await rawReplace(raw, 'a', (d) => ({ ...d, secret: flipAt(String(d.secret), 40) }));
    await expectAtRest(
      instance.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'AUTH_FAILED',
      MARKER,
    );
  });

  it('detects values that are not envelopes', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER) }, { document: doc('b', MARKER) }], 'test');
    await rawReplace(raw, 'a', (d) => ({ ...d, secret: { note: 'injected plaintext' } }));
    await rawReplace(raw, 'b', (d) => ({ ...d, secret: 'v1.***' }));
    await expectAtRest(
      instance.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'MALFORMED',
      MARKER,
    );
    await expectAtRest(
      instance.findDocumentsById(['b'], false),
      'AT_REST_DECRYPT_FAILED',
      'MALFORMED',
      MARKER,
    );
  });

  it('detects a required encrypted field that was removed', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    await rawReplace(raw, 'a', (d) => {
      const { secret: _drop, ...rest } = d;
      return rest;
    });
    await expectAtRest(instance.findDocumentsById(['a'], false), 'AT_REST_DECRYPT_FAILED', 'MISSING', MARKER);
  });

  it('detects values swapped between documents, between fields and across revisions', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite(
      [{ document: doc('a', 'alpha', '1-a', { note: 'x' }) }, { document: doc('b', 'beta', '1-b') }],
      'test',
    );
    const b = await rawGet(raw, 'b');
    await rawReplace(raw, 'a', (d) => ({ ...d, secret: b.secret }));
    await expectAtRest(
      instance.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );

    await rawReplace(raw, 'b', (d) => ({ ...d, secret: d.other, other: d.secret }));
    await expectAtRest(
      instance.findDocumentsById(['b'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );

    // Old ciphertext under a newer revision's clear metadata.
    await instance.bulkWrite([{ document: doc('c', 'v1', '1-c') }], 'test');
    const old = await rawGet(raw, 'c');
    await instance.bulkWrite([{ previous: doc('c', 'v1', '1-c'), document: doc('c', 'v2', '2-c') }], 'test');
    await rawReplace(raw, 'c', (d) => ({ ...d, secret: old.secret }));
    await expectAtRest(
      instance.findDocumentsById(['c'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );
  });

  it('detects a value moved to another collection with the same document id', async () => {
    const { base, storage, dbName, instance } = await setup();
    const elsewhere = await openInstance<Doc>(storage, dbName, SCHEMA, 'elsewhere');
    const rawElsewhere = await openInstance<Raw>(base, dbName, RAW_SCHEMA, 'elsewhere');
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    const [moved] = await (await openInstance<Raw>(base, dbName, RAW_SCHEMA)).findDocumentsById(['a'], false);
    await rawElsewhere.bulkWrite([{ document: moved! }], 'tamper');
    await expectAtRest(
      elsewhere.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );
  });

  it('refuses queries that select or sort on encrypted fields', async () => {
    const { instance } = await setup();
    const selector = { $or: [{ tag: 'x' }, { 'secret.note': MARKER }] } as MangoQuery<Doc>['selector'];
    await expectAtRest(
      Promise.resolve().then(() => instance.query(allQuery(SCHEMA, { selector: selector ?? {} }))),
      'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
      undefined,
      MARKER,
    );
    await expectAtRest(
      Promise.resolve().then(() => instance.count(allQuery(SCHEMA, { selector: { other: null } }))),
      'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
      undefined,
      MARKER,
    );
    await expectAtRest(
      Promise.resolve().then(() =>
        instance.query(allQuery(SCHEMA, { sort: [{ secret: 'asc' }, { id: 'asc' }] })),
      ),
      'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
      undefined,
      MARKER,
    );
  });

  it('refuses schemas it cannot protect', async () => {
    const storage = wrapWithAtRestEncryption({ storage: getRxStorageMemory(), key: key(1) });
    const withAttachments = { ...SCHEMA, attachments: {} };
    await expectAtRest(
      openInstance(storage, 'unsupported1', withAttachments),
      'AT_REST_UNSUPPORTED_SCHEMA',
      undefined,
      MARKER,
    );
    const nested = { ...SCHEMA, encrypted: ['secret.note'] };
    await expectAtRest(
      openInstance(storage, 'unsupported2', nested),
      'AT_REST_UNSUPPORTED_SCHEMA',
      undefined,
      MARKER,
    );
    const indexed = { ...SCHEMA, indexes: [['other', 'id']] };
    await expectAtRest(
      openInstance(storage, 'unsupported3', indexed),
      'AT_REST_UNSUPPORTED_SCHEMA',
      undefined,
      MARKER,
    );
  });

  it('refuses values that are not JSON', async () => {
    const { instance } = await setup();
    const bad = doc('a', 'x');
    bad.secret.n = Number.NaN;
    await expectAtRest(
      instance.bulkWrite([{ document: bad }], 'test'),
      'AT_REST_ENCRYPT_FAILED',
      'NOT_JSON',
      MARKER,
    );
  });

  it('refuses a value whose hidden toJSON would make it store other content than it holds', async () => {
    const { instance } = await setup();
    const hidden = doc('a', MARKER);
    // Not enumerable: the value reads as { note: MARKER } everywhere but in JSON.stringify.
    Object.defineProperty(hidden.secret, 'toJSON', { value: () => ({ note: 'other' }), enumerable: false });
    await expectAtRest(
      instance.bulkWrite([{ document: hidden }], 'test'),
      'AT_REST_ENCRYPT_FAILED',
      'NOT_JSON',
      MARKER,
    );
  });

  it('keeps its own copy of the key', async () => {
    const base = getRxStorageMemory();
    const callerKey = key(9);
    const storage = wrapWithAtRestEncryption({ storage: base, key: callerKey });
    const instance = await openInstance<Doc>(storage, 'keycopy', SCHEMA);
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    callerKey.fill(0);
    const [found] = await instance.findDocumentsById(['a'], false);
    expect(found?.secret.note).toBe(MARKER);
  });

  it('a key-less wrapper opens instances but cannot read or write values', async () => {
    const { base, dbName, instance } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    const keyless = await openInstance<Doc>(wrapWithoutAtRestKey(base), dbName, SCHEMA);
    await expectAtRest(keyless.findDocumentsById(['a'], false), 'AT_REST_NO_KEY', undefined, MARKER);
    await expectAtRest(
      keyless.bulkWrite([{ document: doc('b', MARKER) }], 'test'),
      'AT_REST_NO_KEY',
      undefined,
      MARKER,
    );
  });

  it('encrypts RxDB local documents unless told not to', async () => {
    type Local = { id: string; data: Record<string, unknown> };
    const localName = getCollectionLocalInstanceName('');
    const localDoc = (): RxDocumentData<Local> => ({
      id: 'checkpoint',
      data: { marker: MARKER },
      _rev: '1-l',
      _deleted: false,
      _attachments: {},
      _meta: { lwt: now() },
    });
    const rawLocal = async (encryptLocalDocuments: boolean) => {
      const base = getRxStorageMemory();
      const dbName = `local${++dbCounter}`;
      const storage = wrapWithAtRestEncryption({ storage: base, key: key(1), encryptLocalDocuments });
      const instance = await openInstance<Local>(storage, dbName, RX_LOCAL_DOCUMENT_SCHEMA, localName);
      await instance.bulkWrite([{ document: localDoc() }], 'test');
      const [back] = await instance.findDocumentsById(['checkpoint'], false);
      expect(back?.data).toEqual({ marker: MARKER });
      const raw = await openInstance<Local>(base, dbName, RX_LOCAL_DOCUMENT_SCHEMA, localName);
      return JSON.stringify(await raw.findDocumentsById(['checkpoint'], false));
    };
    expect(await rawLocal(true)).not.toContain(MARKER);
    expect(await rawLocal(false)).toContain(MARKER);
  });
});

describe('clear fields', () => {
  it('refuses values whose clear fields were rewritten on disk under the same revision, remembered or not', async () => {
    const { base, dbName, instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER, '1-a', { note: MARKER }) }], 'test');
    await rawReplace(raw, 'a', { tag: 'forged-tag' });
    // This wrapper has just sealed the envelopes (remembered): the memory must not answer either.
    await expectAtRest(
      instance.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
      MARKER,
    );
    const cold = await openInstance<Doc>(
      wrapWithAtRestEncryption({ storage: base, key: key(1) }),
      dbName,
      SCHEMA,
    );
    await expectAtRest(cold.findDocumentsById(['a'], false), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    await rawReplace(raw, 'a', { tag: 'clear-tag' });
    expect((await cold.findDocumentsById(['a'], false))[0]?.secret).toEqual({ note: MARKER });
  });

  it('refuses a tombstone turned back into a live document on disk', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', MARKER, '1-a') }], 'test');
    const [live] = await instance.findDocumentsById(['a'], false);
    if (!live) throw new Error('a missing');
    const deletion = await instance.bulkWrite(
      [{ previous: live, document: { ...live, _deleted: true, _rev: '2-a' } }],
      'test',
    );
    expect(deletion.error).toEqual([]);
    expect((await instance.findDocumentsById(['a'], true))[0]?._deleted).toBe(true);
    await rawReplace(raw, 'a', { _deleted: false });
    await expectAtRest(
      instance.findDocumentsById(['a'], false),
      'AT_REST_DECRYPT_FAILED',
      'CONTEXT_MISMATCH',
    );
  });

  it('ignores RxDB bookkeeping (_meta) and members left undefined', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite(
      [{ document: { ...doc('a', MARKER), extra: undefined } as RxDocumentData<Doc> }],
      't',
    );
    await rawReplace(raw, 'a', { _meta: { lwt: now() + 1000 } });
    expect((await instance.findDocumentsById(['a'], false))[0]?.secret).toEqual({ note: MARKER });
  });
});

describe('after the database closes', () => {
  it('refuses to read or write with the wrapper, even what it remembered', async () => {
    const base = getRxStorageMemory();
    const dbName = `closed${++dbCounter}`;
    const callerKey = key(4);
    const storage = wrapWithAtRestEncryption({ storage: base, key: callerKey });
    const instance = await openInstance<Doc>(storage, dbName, SCHEMA);
    await instance.bulkWrite([{ document: doc('a', MARKER) }], 'test');
    await instance.close();
    callerKey.fill(0); // what locking the account does to its key
    const again = await openInstance<Doc>(storage, dbName, SCHEMA);
    await expectAtRest(again.findDocumentsById(['a'], false), 'AT_REST_CLOSED', undefined, MARKER);
    await expectAtRest(again.bulkWrite([{ document: doc('b', MARKER) }], 'test'), 'AT_REST_CLOSED');
    // Removing needs no key: still possible over the closed wrapper.
    await again.remove();
  });

  it('stays usable while any instance it created is open, then zeroes its key', async () => {
    const keys: Uint8Array[] = [];
    const offload: CryptoOffload = {
      run: (job) => {
        keys.push((job as AtRestJob).key);
        return Promise.resolve(runAtRestJob(job as AtRestJob));
      },
    };
    const base = getRxStorageMemory();
    const dbName = `closing${++dbCounter}`;
    const storage = wrapWithAtRestEncryption({ storage: base, key: key(5), offload });
    const first = await openInstance<Doc>(storage, dbName, SCHEMA);
    const second = await openInstance<Doc>(storage, dbName, SCHEMA, 'others');
    const docs = Array.from({ length: 8 }, (_, n) => doc(`d${n}`, MARKER));
    expect((await insertAll(first, docs)).error).toEqual([]);
    await first.close();
    expect((await insertAll(second, docs)).error).toEqual([]);
    expect((await second.findDocumentsById(['d0'], false))[0]?.secret).toEqual({ note: MARKER });
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.some((b) => b !== 0))).toBe(true);
    await second.remove();
    // The offload was handed the wrapper's own copy: zeroed now.
    expect(keys.every((k) => k.every((b) => b === 0))).toBe(true);
  });
});

describe('remembered values', () => {
  it('does not open again what it has just sealed, and still refuses it when moved, changed or replayed', async () => {
    const { instance, raw } = await setup();
    const opens = vi.spyOn(naclLowLevel, 'crypto_secretbox_open');
    try {
      await instance.bulkWrite(
        [{ document: doc('a', 'alpha', '1-a') }, { document: doc('b', 'beta', '1-b') }],
        'test',
      );
      const [a] = await instance.findDocumentsById(['a'], false);
      expect(a?.secret).toEqual({ note: 'alpha' });
      expect(opens).not.toHaveBeenCalled();

      // The same remembered envelope under another document: opened, and refused.
      const b = await rawGet(raw, 'b');
      await rawReplace(raw, 'a', (d) => ({ ...d, secret: b.secret }));
      await expectAtRest(
        instance.findDocumentsById(['a'], false),
        'AT_REST_DECRYPT_FAILED',
        'CONTEXT_MISMATCH',
        MARKER,
      );
      expect(opens).toHaveBeenCalled();

      // A remembered envelope replayed under a later revision of its own document.
      const before = await rawGet(raw, 'b');
      const [current] = await instance.findDocumentsById(['b'], false);
      if (!current) throw new Error('b missing');
      await instance.bulkWrite([{ previous: current, document: doc('b', 'beta 2', '2-b') }], 'test');
      await rawReplace(raw, 'b', (d) => ({ ...d, secret: before.secret }));
      await expectAtRest(
        instance.findDocumentsById(['b'], false),
        'AT_REST_DECRYPT_FAILED',
        'CONTEXT_MISMATCH',
        MARKER,
      );
    } finally {
      opens.mockRestore();
    }
  });

  it('keeps null values from pushing content out of the memory', async () => {
    const { instance } = await setup();
    // More documents than one generation holds, fewer than two: their content alone fits, but not
    // together with the envelopes of their null `other` fields if both shared one memory.
    const n = AT_REST_RECENT_VALUES + AT_REST_RECENT_VALUES / 8;
    const docs = Array.from({ length: n }, (_, i) => doc(`d${i}`, `note ${i}`, `1-${i}`));
    expect((await insertAll(instance, docs)).error).toEqual([]);
    const opens = vi.spyOn(naclLowLevel, 'crypto_secretbox_open');
    try {
      const read = await instance.findDocumentsById(
        docs.map((d) => d.id),
        false,
      );
      expect(read).toHaveLength(n);
      expect(read.find((d) => d.id === 'd0')?.secret).toEqual({ note: 'note 0' });
      expect(opens).not.toHaveBeenCalled();
    } finally {
      opens.mockRestore();
    }
  });

  it('answers the change events of a write larger than its memory without opening anything', async () => {
    const { instance } = await setup();
    // More than the memory holds (at most two generations of remembered values): before, the events of the
    // first documents had left it by the time they were emitted and each was opened again, on this thread.
    const n = 2 * AT_REST_RECENT_VALUES + 1000;
    const docs = Array.from({ length: n }, (_, i) => doc(`d${i}`, `note ${i}`, `1-${i}`));
    const events: RxStorageChangeEvent<Doc>[] = [];
    const sub = instance.changeStream().subscribe((bulk) => events.push(...bulk.events));
    const opens = vi.spyOn(naclLowLevel, 'crypto_secretbox_open');
    try {
      expect((await insertAll(instance, docs)).error).toEqual([]);
      expect(opens).not.toHaveBeenCalled();
      expect(events).toHaveLength(n);
      expect(events[0]?.documentData.secret).toEqual({ note: 'note 0' });
      expect(events[n - 1]?.documentData).toMatchObject({ id: `d${n - 1}`, tag: 'clear-tag', other: null });
      // An update's event carries the plaintext of both states.
      events.length = 0;
      const [d0] = await instance.findDocumentsById(['d0'], false);
      if (!d0) throw new Error('d0 missing');
      await instance.bulkWrite(
        [{ previous: d0, document: { ...d0, secret: { note: 'new' }, _rev: '2-0' } }],
        'test',
      );
      expect(events.map((e) => [e.previousDocumentData?.secret, e.documentData.secret])).toEqual([
        [{ note: 'note 0' }, { note: 'new' }],
      ]);
    } finally {
      opens.mockRestore();
      sub.unsubscribe();
    }
  });

  it('opens an event of a stored document it did not write in this process, and refuses a tampered one', async () => {
    const { dbName, base, instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', 'alpha', '1-a') }], 'test');
    // A second wrapper over the same inner storage (another tab, or after a restart) remembers nothing.
    const other = await openInstance<Doc>(
      wrapWithAtRestEncryption({ storage: base, key: key(1) }),
      dbName,
      SCHEMA,
    );
    const [stored] = await other.findDocumentsById(['a'], false);
    if (!stored) throw new Error('a missing');
    const events: RxStorageChangeEvent<Doc>[] = [];
    const errors: unknown[] = [];
    const sub = other.changeStream().subscribe({
      next: (bulk) => events.push(...bulk.events),
      error: (e: unknown) => errors.push(e),
    });
    try {
      // Its own write: answered from the write in flight, previous state included.
      await other.bulkWrite(
        [{ previous: stored, document: { ...stored, secret: { note: 'beta' }, _rev: '2-a' } }],
        'test',
      );
      expect(events.map((e) => [e.previousDocumentData?.secret, e.documentData.secret])).toEqual([
        [{ note: 'alpha' }, { note: 'beta' }],
      ]);
      // A write that reached the inner storage some other way is opened: a value left under rewritten
      // clear fields and another revision is refused.
      await rawReplace(raw, 'a', (d) => ({ ...d, tag: 'moved', _rev: '3-a' }));
      expect(errors).toHaveLength(1);
      expect(isAtRestError(errors[0], 'AT_REST_DECRYPT_FAILED')).toBe(true);
    } finally {
      sub.unsubscribe();
    }
  });

  it('answers from a write only while it is in flight: a later event carrying an object it stored is opened', async () => {
    const { instance, raw } = await setup();
    await instance.bulkWrite([{ document: doc('a', 'alpha', '1-a') }], 'test');
    // The memory storage keeps the very object this wrapper handed it: the same identity a write in flight
    // is answered by. Rewritten in place and emitted again, it must be opened (and refused), not answered
    // with the plaintext of the write that ended.
    const internals = (
      raw as unknown as {
        internals: {
          documents: Map<string, RxDocumentData<Raw>>;
          changes$: { next: (bulk: unknown) => void };
        };
      }
    ).internals;
    // A read applies the memory storage's pending writes to its map.
    await raw.findDocumentsById(['a'], false);
    const stored = internals.documents.get('a');
    if (!stored) throw new Error('a missing');
    stored.tag = 'moved';
    const events: RxStorageChangeEvent<Doc>[] = [];
    const errors: unknown[] = [];
    const sub = instance.changeStream().subscribe({
      next: (bulk) => events.push(...bulk.events),
      error: (e: unknown) => errors.push(e),
    });
    try {
      internals.changes$.next({
        id: 'replayed',
        events: [
          { documentId: 'a', operation: 'UPDATE', documentData: stored, previousDocumentData: undefined },
        ],
        checkpoint: { id: 'a', lwt: stored._meta.lwt },
        context: 'test',
      });
      expect(events).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(isAtRestError(errors[0], 'AT_REST_DECRYPT_FAILED')).toBe(true);
    } finally {
      sub.unsubscribe();
    }
  });

  it('reuses the envelope of an unchanged value for the same revision, and seals anew otherwise', async () => {
    const { instance } = await setup();
    await instance.bulkWrite([{ document: doc('a', 'alpha', '1-a') }], 'test');
    const [read] = await instance.findDocumentsById(['a'], false);
    if (!read) throw new Error('a missing');
    const seals = vi.spyOn(naclLowLevel, 'crypto_secretbox');
    try {
      // RxDB hands the stored state back as `previous` on every update: no new seal for it.
      const result = await instance.bulkWrite(
        [{ previous: read, document: { ...read, secret: { note: 'changed' }, _rev: '2-a' } }],
        'test',
      );
      expect(result.error).toEqual([]);
      // `secret` changed; `other` is null, which is sealed afresh. The previous state was not resealed.
      expect(seals).toHaveBeenCalledTimes(2);
      // The same object under a new revision is sealed again (the revision is bound into the envelope).
      seals.mockClear();
      const [now2] = await instance.findDocumentsById(['a'], false);
      if (!now2) throw new Error('a missing');
      await instance.bulkWrite([{ previous: now2, document: { ...now2, _rev: '3-a' } }], 'test');
      expect(seals).toHaveBeenCalledTimes(2);
    } finally {
      seals.mockRestore();
    }
    const [final] = await instance.findDocumentsById(['a'], false);
    expect(final?.secret).toEqual({ note: 'changed' });
  });
});

// The at-rest wrapper refuses what @hale/crypto's JSON check refuses (one set of rules for wire and disk).
describe('assertJsonValue, as the at-rest wrapper uses it', () => {
  it('accepts plain JSON values and ignores undefined object members', () => {
    expect(() => assertJsonValue({ b: 1, a: { d: [1, 'x', true], c: null }, u: undefined })).not.toThrow();
  });

  it('rejects what JSON cannot carry faithfully', () => {
    expect(() => assertJsonValue(Number.POSITIVE_INFINITY)).toThrow();
    expect(() => assertJsonValue({ a: [Number.NaN] })).toThrow();
    expect(() => assertJsonValue([undefined])).toThrow();
    expect(() => assertJsonValue(new Date(0))).toThrow();
    expect(() => assertJsonValue(1n)).toThrow();
    expect(() => assertJsonValue({ f: () => 1 })).toThrow();
  });
});
