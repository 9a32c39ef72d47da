// Who may publish key envelopes (`putEnvelopes`): only the patient's own devices. Anyone else is refused
// FORBIDDEN whatever consent they hold — none, an active write grant, a revoked one: the consent codes
// (NO_CONSENT, CONSENT_*) are never the answer, since publishing a patient's keys is no consent's to give
// (core/access.ts decides envelope-publish before it reads a grant). docs/protocol.md lists these codes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import {
  connect,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  type TestServer,
  type WsClient,
} from './testing/harness';

let t: TestServer;
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  await t.stop();
});

describe('putEnvelopes on another account’s stream', () => {
  it('is FORBIDDEN without a grant, with an active write grant and after its revocation', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device);
    const d = await connect(t, provider.device);
    const publish = async (c: WsClient): Promise<ServerFrame> =>
      c.request({
        t: 'putEnvelopes',
        rid: c.rid(),
        envelopes: [await makeEnvelope(patient, provider.device, provider, 'allergy')],
      });

    expect(await publish(d)).toMatchObject({ t: 'error', code: 'FORBIDDEN' });

    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    expect(await publish(d)).toMatchObject({ t: 'error', code: 'FORBIDDEN' });

    const revocation = await makeRevocation(patient, grant.grant.grantId);
    expect((await p.request({ t: 'revoke', rid: p.rid(), revocation })).t).toBe('ok');
    expect(await publish(d)).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    await p.close();
    await d.close();
  });
});
