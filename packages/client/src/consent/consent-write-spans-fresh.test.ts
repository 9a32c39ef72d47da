// `writeSpans(…, fresh)`: the codec asks again so when the grants held let a version's writer write
// nothing at its time; the device reads the server's grant list first (a grant made on another of the
// patient's devices since this one last read it), at most once per WRITE_SPANS_REFRESH_MS, never offline.
import { describe, expect, it } from 'vitest';
import { base64urlEncode, deriveAccountKeys, signCanonical } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { grantSignaturePayload, type Grant, type GrantRecord } from '@hale/protocol';
import { WRITE_SPANS_REFRESH_MS } from './consent';
import { PATIENT, GRANTEE as PROVIDER, G1, stubConsent } from './consent-stub.test-util';

const DAY = 86_400_000;
const T0 = Date.parse('2031-03-01T12:00:00.000Z');
const ed = createNodeEd25519();
const keys = deriveAccountKeys(new Uint8Array(32).fill(1));

const signedGrant = async (): Promise<GrantRecord> => {
  const grant: Grant = {
    v: 1,
    grantId: G1,
    patientId: PATIENT,
    granteeId: PROVIDER,
    scope: [{ type: 'lab-result', access: 'write' }],
    start: new Date(T0 - DAY).toISOString(),
    expiresAt: new Date(T0 + DAY).toISOString(),
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: new Date(T0 - DAY).toISOString(),
  };
  const payload = grantSignaturePayload(grant);
  const sig = base64urlEncode(await signCanonical(ed, keys.identity.secretKey, payload.label, payload));
  return { grant: { grant, sig } };
};

const setup = async (role: 'patient' | 'provider' = 'patient') => {
  const clock = { now: T0 };
  const { consent, net } = stubConsent({ ed, clock, role, keys });
  return { consent, net, clock, grant: await signedGrant() };
};

describe('consent writeSpans, fresh', () => {
  it('reads the server list when asked fresh, and answers the write grant it learnt', async () => {
    const { consent, net, grant } = await setup();
    net.served = [grant];
    // Not fresh: the copy as it stands (nothing read).
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER)).toEqual([]);
    expect(net.listings).toBe(0);
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true)).toEqual([
      { grantId: G1, start: T0 - DAY, end: T0 + DAY },
    ]);
    expect(net.listings).toBe(1);
    // Held now: the copy answers without a reading.
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER)).toHaveLength(1);
  });

  it('reads at most once per WRITE_SPANS_REFRESH_MS, shares a reading under way, and never offline', async () => {
    const { consent, net, clock } = await setup();
    const asked = await Promise.all([
      consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true),
      consent.writeSpans(PATIENT, 'note', PROVIDER, true),
    ]);
    expect(asked).toEqual([[], []]);
    expect(net.listings).toBe(1);
    clock.now += WRITE_SPANS_REFRESH_MS - 1;
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true)).toEqual([]);
    expect(net.listings).toBe(1);
    clock.now += 1;
    await consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true);
    expect(net.listings).toBe(2);
    clock.now += WRITE_SPANS_REFRESH_MS;
    net.status = 'offline';
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true)).toEqual([]);
    expect(net.listings).toBe(2);
    // Another patient's streams: this device keeps none of its grants, and reads nothing.
    net.status = 'ready';
    expect(await consent.writeSpans(PROVIDER, 'lab-result', PATIENT, true)).toBeNull();
    expect(net.listings).toBe(2);
  });

  it('on a provider account holding no grant it issued, reads the list as a patient does', async () => {
    const { consent, net } = await setup('provider');
    expect(await consent.writeSpans(PATIENT, 'lab-result', PROVIDER, true)).toEqual([]);
    expect(net.listings).toBe(1);
  });
});
