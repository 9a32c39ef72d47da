// Account erasure on the CouchDB store (couch/erase.ts) when a node stops in the middle: its connection to
// CouchDB is cut (every request fails, as for a killed process) right after a chosen request. Cut after the
// intent is written (the sweep not done): another node's erase of the account finishes it and answers the
// same figures, and a node that starts finishes it by itself. Cut before the transaction is decided: nothing
// is erased and another node erases it whole. Afterwards no live document names the account (a removal by
// another shard's commit leaves `{ gone }` and nothing more), its shard's log is gone, and a conflicting
// revision (a partition's) of one of its records went too.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoAt, makeAccount, makeDevice, makeDocInput } from './conformance';
import { key } from './couch/db';
import { openCouchStore, type CouchStore } from './couch/store';
import { isStoreError, type AccountErasure } from './types';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

let server: PouchServer;
beforeAll(async () => {
  server = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await server.stop();
});

const C = 'Clinician_01234567890';
const raw = (path: string, init?: { method: string; body: unknown }) => server.request(path, init);
const allDocs = async (db: string) =>
  (await raw(`${db}/_all_docs?include_docs=true`)).rows as Array<{
    id: string;
    doc: Record<string, unknown>;
  }>;

const quiet = { onListenerError: () => undefined };
/** A store whose connection is cut once a request matching `cutAfter` has been answered. */
const cutting = (database: string, cutAfter: (url: string, body: string) => boolean) => {
  let cut = false;
  const fetchCut: typeof fetch = async (input, init) => {
    if (cut) throw new TypeError('fetch failed (node stopped)');
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const response = await fetch(input, init);
    if (cutAfter(url, typeof init?.body === 'string' ? init.body : '')) cut = true;
    return response;
  };
  return openCouchStore({ url: server.url, database, fetch: fetchCut, ...quiet });
};

const seed = async (store: CouchStore, p: string): Promise<void> => {
  await store.accounts.register(makeAccount(p, { loginName: `login-${p}` }), makeDevice(`dev-${p}`, p));
  if ((await store.accounts.get(C)) === null) {
    await store.accounts.register(makeAccount(C, { role: 'provider' }), makeDevice('dev-c', C));
  }
  for (let i = 0; i < 5; i++) {
    await store.docs.writeDocs(
      Array.from({ length: 20 }, (_, j) => ({
        doc: makeDocInput(`${p}/allergy`, `r-${i}-${j}`, '1-x'),
        assumedRev: null,
      })),
      isoAt(1),
    );
  }
  await store.envelopes.putAll([
    {
      stream: `${p}/allergy`,
      epoch: 1,
      recipient: C,
      keyId: 'k',
      wrapped: 'w',
      createdBy: `dev-${p}`,
      createdAt: isoAt(1),
    },
  ]);
  await store.grants.put({
    grantId: `g-${p}`,
    patientId: p,
    granteeId: C,
    scope: [{ type: 'allergy', access: 'read' }],
    start: isoAt(0),
    expiresAt: isoAt(86_400),
    issuedAt: isoAt(1),
    signed: { body: {}, sig: 's' },
  });
  await store.sessions.put({
    tokenHash: `tok-${p}`,
    deviceId: `dev-${p}`,
    accountId: p,
    expiresAt: isoAt(86_400),
  });
};
const FIGURES = (p: string): AccountErasure => ({
  docs: 100,
  blobs: 0,
  grants: 1,
  envelopes: 1,
  deviceIds: [`dev-${p}`],
  granteeIds: [C],
});

/** Nothing live names `p`: data documents, and its shard's log. */
const expectNothingOf = async (database: string, p: string): Promise<void> => {
  const naming = (await allDocs(database)).filter((r) => JSON.stringify(r).includes(p));
  for (const r of naming) {
    // A removal by another shard's commit (the grant's index under its grantee, …): an empty `gone`.
    expect(Object.keys(r.doc).sort(), r.id).toEqual(['_id', '_rev', 'cn', 'gone']);
  }
  const log = (await allDocs(`${database}-log`)).filter((r) => r.id.startsWith(`l|${p}|`));
  expect(log).toEqual([]);
};
const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isStoreError(error) ? error.code : String(error);
  }
};

describe('account erasure on CouchDB, a node stopping in the middle', () => {
  it('stopped after its intent: another node finishes it (erase, or start), with the same figures', async () => {
    const database = `e-${randomUUID()}`;
    const [p1, p2] = ['PatientOne_0123456789', 'PatientTwo_0123456789'];
    const seeder = await openCouchStore({ url: server.url, database, ...quiet });
    await seeder.init();
    await seed(seeder, p1);
    await seed(seeder, p2);
    // A partition's conflicting revision of one of p1's records: erased with the rest.
    const record = key('d', `${p1}/allergy`, 'r-0-0');
    await raw(`${database}/_bulk_docs`, {
      method: 'POST',
      body: {
        new_edits: false,
        docs: [{ _id: record, ct: 'rival', _rev: '9-ffff', _revisions: { start: 9, ids: ['ffff'] } }],
      },
    });
    await seeder.close();

    for (const p of [p1, p2]) {
      const dying = await cutting(
        database,
        (url, body) => url.includes(`/${database}/_bulk_docs`) && body.includes(key('X', p)),
      );
      // Not started (init): a starting node finishes the erasures left before (the one of p1 here).
      expect(await codeOf(dying.accounts.erase?.(p) ?? Promise.resolve())).toBe('UNAVAILABLE');
      await dying.close();
      // The intent is there, the sweep not done.
      expect((await raw(`${database}/${encodeURIComponent(key('X', p))}`)).intent).toBeDefined();
    }
    // Its erase again, through another node: finished and answered.
    const b = await openCouchStore({ url: server.url, database, ...quiet });
    expect(await b.accounts.erase?.(p1)).toEqual(FIGURES(p1));
    await expectNothingOf(database, p1);
    expect((await raw(`${database}/${encodeURIComponent(record)}?open_revs=all`)) as unknown).toSatisfy(
      (revs: unknown) =>
        Array.isArray(revs) && revs.every((r: { ok?: { _deleted?: boolean } }) => r.ok?._deleted === true),
    );
    await b.close();
    // A node that starts finishes what is left by itself.
    const c = await openCouchStore({ url: server.url, database, ...quiet });
    await c.init();
    await expect
      .poll(async () => (await raw(`${database}/${encodeURIComponent(key('X', p2))}`)).error, {
        timeout: 10_000,
      })
      .toBe('not_found');
    await expectNothingOf(database, p2);
    expect(await c.accounts.get(p2)).toBeNull();
    expect(await c.sessions.get(`tok-${p2}`)).toBeNull();
    expect(await codeOf(c.accounts.erase?.(p2) ?? Promise.resolve())).toBe('NOT_FOUND');
    expect((await c.grants.listForGrantee(C)).map((g) => g.grantId)).toEqual([]);
    await c.close();
  }, 60_000);

  it('stopped before its transaction is decided: nothing erased, and another node erases it whole', async () => {
    const database = `e-${randomUUID()}`;
    const p = 'PatientThree_012345678';
    const seeder = await openCouchStore({ url: server.url, database, ...quiet });
    await seeder.init();
    await seed(seeder, p);
    await seeder.close();
    // Cut once its part in the account's log is created (the transaction still pending).
    const dying = await cutting(
      database,
      (url, body) => url.includes(`-log/${encodeURIComponent(`l|${p}|`)}`) && body.includes('"tx"'),
    );
    expect(await codeOf(dying.accounts.erase?.(p) ?? Promise.resolve())).toBe('UNAVAILABLE');
    await dying.close();
    const b = await openCouchStore({ url: server.url, database, ...quiet });
    expect((await b.accounts.get(p))?.accountId).toBe(p);
    expect((await b.docs.readDocs(`${p}/allergy`, 0, 1000, 1 << 24)).docs).toHaveLength(100);
    expect(await b.accounts.erase?.(p)).toEqual(FIGURES(p));
    await expectNothingOf(database, p);
    await b.close();
  }, 60_000);
});
