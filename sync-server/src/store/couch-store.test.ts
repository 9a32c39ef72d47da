// The CouchDB store (couch/store.ts) against the SyncStore conformance suite, the access guard suite and
// the heads suite, unchanged, over one pouchdb-server per file (each test its own databases).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { runAccessGuardConformance } from './access-guard-conformance';
import { runStoreConformance } from './conformance';
import { openCouchStore } from './couch/store';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

let server: PouchServer;
beforeAll(async () => {
  server = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await server.stop();
});

const quiet = { onListenerError: () => {} };
const open = (database: string) => openCouchStore({ url: server.url, database, ...quiet });
const single = async () => {
  const store = await open(`t-${randomUUID()}`);
  return { store, cleanup: () => store.close() };
};
const pair = async () => {
  const database = `t-${randomUUID()}`;
  const a = await open(database);
  const b = await open(database);
  await a.init();
  await b.init();
  return {
    stores: [a, b] as [typeof a, typeof b],
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
};

runStoreConformance('couchdb', single, { makeSharedPair: pair });
runAccessGuardConformance('couchdb', single, { makeSharedPair: pair });
