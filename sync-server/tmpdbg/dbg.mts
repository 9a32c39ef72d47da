import { openCouchStore } from '/work/wt/couch/sync-server/src/store/couch/store';
import { startPouchServer } from '/work/wt/couch/sync-server/src/store/couch/pouchdb-server';
import { makeAccount } from '/work/wt/couch/sync-server/src/store/conformance';
const server = await startPouchServer({ inMemory: true });
try {
  const store = await openCouchStore({ url: server.url, database: 'dbg' });
  await store.init();
  const log = (store as any);
  const r = await fetch(server.url + '/dbg-log/_all_docs?include_docs=true');
  console.log(await r.text());
  await store.accounts.put(makeAccount('acc-1', { loginName: 'alice' })).catch(e => console.log('ERR', e));
  const r2 = await fetch(server.url + '/dbg-log/_all_docs?include_docs=true&limit=5');
  console.log((await r2.text()).slice(0, 3000));
} finally { await server.stop(); }
