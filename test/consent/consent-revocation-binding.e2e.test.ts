// A revocation the server serves counts only for the grant it names: the patient's genuine signed
// revocation of one grant, attached by the server to another grant of the same patient and grantee, must
// not end that other grant on the patient's devices (nor have its streams re-keyed as if it had ended).
import { describe, expect, it } from 'vitest';
import {
  makeGrant,
  makeRevocation,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { grantRead, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;

/** A grant `patient` signed as if on another of its devices, stored on the server (only there). */
const issuedElsewhere = async (
  t: TestServer,
  patient: TestAccount,
  grantee: TestAccount,
  type: 'immunization' | 'medication',
): Promise<string> => {
  const signed = await makeGrant(patient, grantee, [{ type, access: 'read' }], {
    expiresAt: Date.now() + 48 * HOUR,
  });
  const g = signed.grant;
  await t.store.grants.put({ ...g, scope: g.scope.map((s) => ({ ...s })), signed }, new Date().toISOString());
  return g.grantId;
};

describe('a signed revocation served with another grant than the one it names', () => {
  const server = useServer({ realClock: true });

  it('revokes only the grant it names; the other stays active and its stream is not re-keyed', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);

    // A is revoked on another device of the patient, with the patient's signature.
    const a = await issuedElsewhere(t, patient, provider, 'immunization');
    const revocationOfA = await makeRevocation(patient, a);
    await t.store.grants.revoke(a, new Date().toISOString(), revocationOfA);
    // The server attaches that same revocation to B (learnt from the server) and to C (issued here).
    const b = await issuedElsewhere(t, patient, provider, 'medication');
    await t.store.grants.revoke(b, new Date().toISOString(), revocationOfA);
    const c = (await grantRead(p, provider.accountId, 'allergy', 48 * HOUR, 'care')).grant.grantId;
    await t.store.grants.revoke(c, new Date().toISOString(), revocationOfA);

    const statuses = new Map((await p.consent.list()).map((g) => [g.grant.grantId, g.status]));
    expect.soft(statuses.get(a), 'grant A, revoked with its own signed revocation').toBe('revoked');
    expect
      .soft(statuses.get(b), "grant B (learnt from the server), served with A's revocation")
      .toBe('active');
    expect
      .soft(statuses.get(c), "grant C (issued on this device), served with A's revocation")
      .toBe('active');

    // Re-keying goes by the same view: only A's stream is re-keyed.
    expect(await p.consent.rotateExpired()).toEqual([
      { stream: `${patient.accountId}/immunization`, epoch: 1 },
    ]);
  });
});
