import { openCouchStore } from '../src/store/couch/store';
import { startPouchServer } from '../src/testing/pouchdb-server';
import { makeAccount } from '../src/store/conformance';
const couch = await startPouchServer();
const a = await openCouchStore({ url: couch.url, database: 'f' });
const b = await openCouchStore({ url: couch.url, database: 'f' });
await a.init(); await b.init();
await a.accounts.put(makeAccount('pat')); await a.accounts.put(makeAccount('doc'));
let heard: (() => void) | null = null;
b.onRemoteChange(() => heard?.());
for (let i = 0; i < 8; i++) {
  const got = new Promise<void>((r) => (heard = r));
  const t0 = performance.now();
  await a.grants.put({ grantId: `g${i}`, patientId: 'pat', granteeId: 'doc', scope: [], start: '2030-01-01T00:00:00.000Z', expiresAt: '2031-01-01T00:00:00.000Z', issuedAt: '2030-01-01T00:00:00.000Z', signed: {} }, '2030-01-01T00:00:00.000Z');
  const t1 = performance.now();
  await got;
  console.log(`put ${(t1 - t0).toFixed(0)} ms, heard after ${(performance.now() - t0).toFixed(0)} ms`);
}
await a.close(); await b.close(); await couch.stop();
