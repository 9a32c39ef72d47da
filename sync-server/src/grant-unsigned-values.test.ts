// A grant carrying a value canonical JSON cannot write (a lone surrogate: valid JSON, which JSON.parse
// hands over as is) is refused, never answered as a failure of the server's (INTERNAL), and nothing is
// stored. The purpose is sealed (base64url parts), so its schema refuses such a value (BAD_MESSAGE) before
// the signature is checked.
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

describe('a grant whose sealed purpose carries a lone surrogate (valid JSON)', () => {
  it('is refused BAD_MESSAGE (not base64url), not answered INTERNAL; nothing stored', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const c = await connect(t, patient.device);
    clients.push(c);
    const signed = await makeGrant(patient, provider, [{ type: 'note', access: 'read' }], {
      now: t.clock.now,
    });
    const grant = {
      ...signed,
      grant: { ...signed.grant, purpose: { ...signed.grant.purpose, ct: '\ud800' } },
    };
    expect(await c.request({ t: 'grant', rid: c.rid(), grant })).toMatchObject({
      t: 'error',
      code: 'BAD_MESSAGE',
    });
    expect(grantCount()).toBe(0);
  });
});
