import { connect, makeDoc, registerAccount } from '../src/testing/harness';
import { spawnCouchNode, startPouchServer } from '../src/testing/couch';
const couch = await startPouchServer();
let t0 = Date.now();
const node = await spawnCouchNode(couch.url, 'x', 18999);
console.log('spawn ms', Date.now() - t0);
const patient = await registerAccount(node);
for (let k = 0; k < 4; k++) {
  const c = await connect(node, patient.device);
  const docs = await Promise.all(Array.from({ length: 8 }, (_, i) => makeDoc(patient, patient.device, 'allergy', { t: `${k}${i}` })));
  t0 = Date.now();
  const r = await c.request({ t: 'push', rid: c.rid(), rows: docs.map((doc) => ({ doc, assumedRev: null })) });
  console.log('push ms', Date.now() - t0, r.t);
  c.ws.terminate();
}
await node.kill('SIGKILL'); await couch.stop();
