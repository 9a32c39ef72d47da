// Consent is the patient's to give (docs/protocol.md, `grant`: only a patient device may send it, for its
// own account). A provider account granting another account access to streams of its own is refused
// FORBIDDEN and nothing is stored or served, as a grant naming another patient is. And a grant no one can
// have signed (a value canonical JSON cannot write) is refused as unsigned, not as a server failure.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  makeDoc,
  makeGrant,
  registerAccount,
  startServer,
  type TestServer,
  type WsClient,
} from './testing/harness';

let t: TestServer;
const clients: WsClient[] = [];
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await t.stop();
});

const grantCount = (): number =>
  (t.store.db.prepare('SELECT count(*) AS n FROM grants').get() as { n: number }).n;

describe('a grant sent by a provider account', () => {
  it('is refused FORBIDDEN, stored nowhere, and the other account pulls nothing of it', async () => {
    const provider = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const c = await connect(t, provider.device);
    clients.push(c);
    const grant = await makeGrant(provider, other, [{ type: 'note', access: 'read' }], { now: t.clock.now });
    expect(await c.request({ t: 'grant', rid: c.rid(), grant })).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });
    expect(grantCount()).toBe(0);
    const doc = await makeDoc(provider, provider.device, 'note', { a: 1 });
    await c.request({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] });
    const o = await connect(t, other.device);
    clients.push(o);
    const pulled = await o.request({
      t: 'pull',
      rid: o.rid(),
      streams: [{ stream: `${provider.accountId}/note`, since: 0 }],
      limit: 10,
      maxBytes: 1_000_000,
    });
    expect(pulled).toMatchObject({ t: 'pulled', docs: [] });
  });

  it('the same grant from a patient account is taken (the control)', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const c = await connect(t, patient.device);
    clients.push(c);
    const grant = await makeGrant(patient, provider, [{ type: 'note', access: 'read' }], {
      now: t.clock.now,
    });
    expect(await c.request({ t: 'grant', rid: c.rid(), grant })).toMatchObject({ t: 'ok' });
    expect(grantCount()).toBe(1);
  });
});

describe('a grant whose purpose canonical JSON cannot write (a lone surrogate: valid JSON)', () => {
  it('is refused BAD_SIGNATURE (no one can have signed it), not answered INTERNAL; nothing stored', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const c = await connect(t, patient.device);
    clients.push(c);
    const signed = await makeGrant(patient, provider, [{ type: 'note', access: 'read' }], {
      now: t.clock.now,
    });
    const grant = { ...signed, grant: { ...signed.grant, purpose: '\ud800' } };
    expect(await c.request({ t: 'grant', rid: c.rid(), grant })).toMatchObject({
      t: 'error',
      code: 'BAD_SIGNATURE',
    });
    expect(grantCount()).toBe(0);
  });
});
