// Seal once, steps 1-3: a local stream record version is stored as the wire document it travels as
// (`s1.` form, bound by `lb`), opened through the stream key on read, and answered to push as stored.
// Every test that attempts a forbidden thing reads through a fresh wrapper (nothing remembered), so the
// refusal comes from the checks, not from a memory miss.
import { afterEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  fillWithDefaultSettings,
  normalizeMangoQuery,
  prepareQuery,
  type RxDocumentData,
  type RxStorage,
  type RxStorageInstance,
} from 'rxdb';
import { base64urlDecode, openRecordVersion, randomBytes } from '@hale/crypto';
import { wrapWithAtRestEncryption } from './at-rest-encryption';
import { RECORDS_SCHEMA, type DeviceRecord } from './device-db';
import { createStreamSealing } from './stream-sealing';
import { parseStreamValue, STREAM_CONFLICT_MARK } from './stream-versions';
import { expectAtRest, openInstance, rawGet, rawReplace, rawSchemaOf, type Raw } from './at-rest.test-util';
import { createStreamSealer } from '../sync/stream-sealer';
import { patientDeps, patientDevice, providerDevice, record } from '../sync/codec-fixture.test-util';

type Doc = RxDocumentData<DeviceRecord>;
const SCHEMA = fillWithDefaultSettings(RECORDS_SCHEMA);
const memory = getRxStorageMemory() as RxStorage<unknown, unknown>;
const key = randomBytes(32);
let dbN = 0;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const i of open.splice(0)) await i.close().catch(() => undefined);
});

const sealerFor = () => createStreamSealer({ codec: patientDeps, keyring: patientDeps.keyring });

/** A wrapper over the shared memory storage of `db`, with seal once attached unless `attach` is false. */
const wrapped = async (db: string, attach = true, slicedReads = false) => {
  const sealing = createStreamSealing();
  if (attach) sealing.attach(sealerFor());
  const storage = wrapWithAtRestEncryption<unknown, unknown>({
    storage: memory,
    key,
    streamSealing: { collection: 'records', sealing },
    slicedReads,
  });
  const instance = await openInstance<DeviceRecord>(storage, db, SCHEMA, 'records');
  open.push(instance);
  return { instance, sealing };
};
const raw = async (db: string) => {
  const instance = await openInstance<Raw>(memory, db, rawSchemaOf(SCHEMA), 'records');
  open.push(instance);
  return instance;
};

const docOf = (over: Partial<DeviceRecord> & { _rev?: string; _deleted?: boolean } = {}): Doc => {
  const { _deleted, ...plain } = record(over);
  return {
    ...plain,
    _deleted: over._deleted ?? _deleted,
    _rev: over._rev ?? '1-aaaa',
    _meta: { lwt: 1_700_000_000_000 },
    _attachments: {},
  };
};
const id2 = '01J00000000000000000000002';

const write = async (instance: RxStorageInstance<DeviceRecord, unknown, unknown>, docs: Doc[]) => {
  const result = await instance.bulkWrite(
    docs.map((document) => ({ document })),
    'test',
  );
  expect(result.error).toEqual([]);
};
const read = async (instance: RxStorageInstance<DeviceRecord, unknown, unknown>, id: string) => {
  const [found] = await instance.findDocumentsById([id], true);
  return found;
};

const fresh = () => `seal-once-${++dbN}-${Date.now()}`;

describe('seal once: local versions stored as they travel', () => {
  it('stores a local write as its wire document, opens it on read, and push gets the same bytes', async () => {
    const db = fresh();
    const { instance, sealing } = await wrapped(db);
    const doc = docOf();
    await write(instance, [doc]);
    const stored = await rawGet(await raw(db), doc.id);
    expect(String(stored['data'])).toMatch(/^s1\./);
    expect(stored['conflictData']).toBe(STREAM_CONFLICT_MARK);
    expect(JSON.stringify(stored)).not.toContain('peanut');
    const version = parseStreamValue(String(stored['data']))!;
    // The stored ct opens under the stream key with the record's context, tag bound inside.
    const streamKey = patientDeps.keyring.heldKey(doc.stream, 0)!;
    const opened = openRecordVersion(
      streamKey,
      (base64urlDecode(version.ct) as { value: Uint8Array }).value,
      {
        stream: doc.stream,
        id: doc.id,
        epoch: 0,
        rev: 1,
      },
    );
    expect(opened.ok && opened.value.tag).toBe(version.rev);
    // Push is answered with exactly these bytes for exactly this state.
    const state = { ...record(), _deleted: false };
    const pushed = sealing.storedFor(state);
    expect(pushed).toMatchObject({
      ct: version.ct,
      rev: version.rev,
      epoch: 0,
      author: patientDevice.deviceId,
    });
    expect(sealing.storedFor({ ...state, updatedAt: '2026-01-02T00:00:00.000Z' })).toBeNull();
    expect(sealing.storedFor({ ...state, data: { ...state.data, note: 'x' } })).toBeNull();
    // A fresh wrapper (nothing remembered) reads the plaintext back, and push still gets the bytes.
    const again = await wrapped(db);
    const back = await read(again.instance, doc.id);
    expect(back?.data).toEqual(doc.data);
    expect(back?.conflictData).toBeNull();
    expect(again.sealing.storedFor(state)?.ct).toBe(version.ct);
  });

  it('keeps a pulled version as received only for the very state decoded from it', async () => {
    const [wire] = await sealerFor().seal([{ ...record(), _deleted: false }]);
    const storedCt = async (over: (state: Omit<Doc, '_rev' | '_meta' | '_attachments'>) => Doc) => {
      const db = fresh();
      const { instance, sealing } = await wrapped(db);
      const { _rev, _meta, _attachments, ...state } = docOf();
      sealing.noteReceived(state, wire!);
      await write(instance, [over(state)]);
      const stored = String((await rawGet(await raw(db), state.id))['data']);
      expect(stored).toMatch(/^s1\.0\./);
      // A fresh wrapper (nothing remembered) opens what was kept through the stream key's checks.
      expect((await read((await wrapped(db)).instance, state.id))?.data).toEqual(record().data);
      return parseStreamValue(stored)!.ct;
    };
    const rxdb = { _rev: '1-aaaa', _meta: { lwt: 1_700_000_000_000 }, _attachments: {} };
    // The state decoded from the bytes: stored as received (no seal: the very ciphertext).
    expect(await storedCt((state) => ({ ...state, ...rxdb }))).toBe(wire!.ct);
    // A copy of its content, or a clear field changed, is not that state: sealed anew (another nonce).
    expect(await storedCt((state) => ({ ...state, ...rxdb, data: { ...state.data } }))).not.toBe(wire!.ct);
    expect(
      await storedCt((state) => ({ ...state, ...rxdb, updatedAt: '2026-01-02T00:00:00.000Z' })),
    ).not.toBe(wire!.ct);
    // Without seal once attached, nothing is kept as received: the at-rest key, as before.
    const db = fresh();
    const { instance, sealing } = await wrapped(db, false);
    const { _rev, _meta, _attachments, ...state } = docOf();
    sealing.noteReceived(state, wire!);
    await write(instance, [{ ...state, ...rxdb }]);
    expect(String((await rawGet(await raw(db), state.id))['data'])).toMatch(/^v1\./);
  });

  it('leaves to the at-rest key what it cannot seal once: no sealer, another author', async () => {
    const db = fresh();
    const { instance } = await wrapped(db, false);
    await write(instance, [docOf()]);
    const { instance: other } = await wrapped(db);
    await write(other, [docOf({ id: id2, author: providerDevice.deviceId })]);
    const rawInstance = await raw(db);
    expect(String((await rawGet(rawInstance, record().id))['data'])).toMatch(/^v1\./);
    expect(String((await rawGet(rawInstance, id2))['data'])).toMatch(/^v1\./);
    expect((await read(other, id2))?.data).toEqual(record({ id: id2 }).data);
  });

  it('refuses a tampered ciphertext, a swapped one, rewritten clear fields and a replayed version', async () => {
    const db = fresh();
    const { instance } = await wrapped(db);
    await write(instance, [docOf(), docOf({ id: id2 })]);
    const r = await raw(db);
    const a = await rawGet(r, record().id);
    const b = await rawGet(r, id2);
    const reread = async (id: string) => read((await wrapped(db)).instance, id);
    // One byte of ct flipped (lb still the old one): the binding no longer holds.
    const va = parseStreamValue(String(a['data']))!;
    const flipped = `${va.ct.slice(0, 40)}${va.ct[40] === 'A' ? 'B' : 'A'}${va.ct.slice(41)}`;
    await rawReplace(r, a['id'] as string, { data: String(a['data']).replace(va.ct, flipped) });
    await expectAtRest(reread(record().id), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    // Another record's stored version moved here.
    await rawReplace(r, a['id'] as string, { data: b['data'] });
    await expectAtRest(reread(record().id), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    await rawReplace(r, a['id'] as string, { data: a['data'] });
    expect((await reread(record().id))?.data).toEqual(record().data);
    // Clear fields rewritten on disk: kind, author account, tombstone.
    for (const change of [{ kind: 'Medication' }, { by: 'someone-else' }, { _deleted: true }] as Raw[]) {
      await rawReplace(r, id2, change);
      await expectAtRest(reread(id2), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
      await rawReplace(r, id2, { kind: b['kind'], by: b['by'], _deleted: b['_deleted'] });
    }
    expect((await reread(id2))?.kind).toBe('Allergy');
    // A replayed older version: rv 1's bytes under rv 2's clear state.
    const { instance: w } = await wrapped(db);
    const [before] = await w.findDocumentsById([id2], true);
    const next = { ...docOf({ id: id2, rv: 2, updatedAt: '2026-02-01T00:00:00.000Z' }), _rev: '2-bbbb' };
    expect((await w.bulkWrite([{ previous: before!, document: next }], 'test')).error).toEqual([]);
    await rawReplace(r, id2, { data: b['data'] });
    await expectAtRest(reread(id2), 'AT_REST_DECRYPT_FAILED', 'CONTEXT_MISMATCH');
    // Rebound by someone without the at-rest key (a binding under another key): still refused.
    await rawReplace(r, id2, { data: String(b['data']).replace(/\.[^.]+\.([^.]+)$/, '.AAAA.$1') });
    await expectAtRest(reread(id2), 'AT_REST_DECRYPT_FAILED');
  });

  it('holds no plaintext once locked: the cache and the sealer are dropped, reads refused', async () => {
    const db = fresh();
    const { instance, sealing } = await wrapped(db);
    await write(instance, [docOf()]);
    expect((await read(instance, record().id))?.data).toEqual(record().data);
    sealing.forget();
    // The remembered plaintext went with it: the read has to open, and there is no stream key.
    await expectAtRest(read(instance, record().id), 'AT_REST_DECRYPT_FAILED', 'MISSING');
    expect(sealing.storedFor({ ...record(), _deleted: false })).toBeNull();
    // A sealer attached after the lock (an open that was under way) is not taken.
    sealing.attach(sealerFor());
    expect(sealing.sealer()).toBeNull();
    // Writes after the lock are not sealed once (no sealer): under the at-rest key as before.
    await write(instance, [docOf({ id: id2 })]);
    expect(String((await rawGet(await raw(db), id2))['data'])).toMatch(/^v1\./);
  });

  it('forgets everything when the instance closes (AT_REST_CLOSED after)', async () => {
    const db = fresh();
    const { instance, sealing } = await wrapped(db);
    await write(instance, [docOf()]);
    await instance.close();
    expect(sealing.sealer()).toBeNull();
    await expectAtRest(read(instance, record().id), 'AT_REST_CLOSED');
  });

  it('with slicedReads, opens a query of many stored versions in slices, other tasks between, to the same answer', async () => {
    const db = fresh();
    const { instance } = await wrapped(db);
    const ids = Array.from({ length: 1500 }, (_, n) => `01J${String(n).padStart(23, '0')}`);
    await write(
      instance,
      ids.map((id, n) => docOf({ id, data: { substance: `substance ${n}`, note: 'x'.repeat(400) } })),
    );
    const everything = prepareQuery(
      SCHEMA,
      normalizeMangoQuery(SCHEMA, { selector: {}, sort: [{ id: 'asc' }] }),
    );
    const ticksDuring = async (read: () => Promise<unknown>) => {
      let ticks = 0;
      let on = true;
      const tick = (): void => {
        ticks++;
        if (on) setTimeout(tick, 0);
      };
      setTimeout(tick, 0);
      const answer = await read();
      on = false;
      return { answer, ticks };
    };
    // Fresh wrappers: nothing remembered, every version opened on this thread.
    const sliced = await ticksDuring(async () => (await wrapped(db, true, true)).instance.query(everything));
    const whole = await ticksDuring(async () => (await wrapped(db, true, false)).instance.query(everything));
    expect(sliced.answer).toEqual(whole.answer);
    expect((sliced.answer as { documents: unknown[] }).documents).toHaveLength(ids.length);
    expect(sliced.ticks).toBeGreaterThan(whole.ticks);
    expect(sliced.ticks).toBeGreaterThanOrEqual(2);
  });
});
