// A device's revocation cuts the writes it has in flight: a push from the device that is still being
// checked (its row's signature verified) when the revocation commits stores nothing. The revocation closes
// the socket, so the device never hears an answer either way; what matters is that the store does not take
// a record from a device after its revocation committed (a stolen device's last batch).
import { afterEach, expect, it } from 'vitest';
import { gatedEd } from './testing/gated-ed';
import {
  addDevice,
  connect,
  docRow,
  makeDoc,
  registerAccount,
  revokeDevice,
  startServer,
  type TestServer,
} from './testing/harness';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

it('a push still being checked when its device is revoked stores nothing', async () => {
  const { gate, arm } = gatedEd();
  t = await startServer({ ed: gate });
  const patient = await registerAccount(t);
  const phone = await addDevice(t, patient);
  const c = await connect(t, phone);
  const doc = await makeDoc(patient, phone, 'note', { text: 'written by the lost phone' });
  // The push waits in its row's signature check…
  const held = arm('verify');
  c.sendRaw(JSON.stringify({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] }));
  await held.reached;
  // …while the patient revokes the phone (committed: the socket is closed with DEVICE_REVOKED).
  expect((await revokeDevice(t, patient, phone)).status).toBe(200);
  expect((await c.closed).code).toBe(4001);
  expect((await t.store.devices.get(phone.deviceId))?.revokedAt).toBeDefined();
  held.release();
  // Let the push run to its end.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(docRow(t.store, doc.stream, doc.id)).toBeUndefined();
});
