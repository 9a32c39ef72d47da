// A grant no one can have signed, because a value in it is one canonical JSON cannot write (a lone
// surrogate: valid JSON, which JSON.parse hands over as is), is refused as unsigned (BAD_SIGNATURE), never
// answered as a failure of the server's (INTERNAL), and nothing is stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
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
