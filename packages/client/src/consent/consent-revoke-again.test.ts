// Revoking a grant this device already holds revoked sends the revocation again, for a server that lost
// it (restored from a backup taken before it). Before, it was signed anew, dated at the second call: the
// server took that time, and every device learning the revocation from it afterwards held the grant as
// ended only then (the write span of its grantee, the time list() and disclosures() show), not when the
// patient revoked it.
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '@hale/crypto/node';
import { writeSpansOf, type StoredGrant } from './consent';
import {
  G1,
  GRANTEE,
  HOUR,
  labWriteGrant as grant,
  PATIENT,
  stubConsent,
  T0,
} from './consent-stub.test-util';

describe('revoking a grant held revoked', () => {
  it('sends the revocation that stood, dated when the patient revoked, not a new one', async () => {
    const clock = { now: T0 };
    const { consent, sent } = stubConsent({ ed: createNodeEd25519(), clock, held: [grant] });

    await consent.revoke(G1);
    const [first] = await consent.list();
    expect(first?.revokedAt).toBe(new Date(T0).toISOString());
    expect(sent).toHaveLength(1);

    // An hour later the patient finds the grant active on a server restored from a backup, and revokes again.
    clock.now = T0 + HOUR;
    await consent.revoke(G1);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.revocation.revokedAt).toBe(sent[0]?.revocation.revokedAt);
    // The very revocation that stood (Ed25519 signs deterministically): the server keeps one either way.
    expect(sent[1]).toEqual(sent[0]);
    // What a device learning the revocation from that server would hold: the grantee's write span ends
    // when the patient revoked.
    const learnt: StoredGrant = { grant, sig: 'A'.repeat(86), revokedAt: sent[1]!.revocation.revokedAt };
    expect(writeSpansOf([learnt], PATIENT, 'lab-result', GRANTEE)).toEqual([
      { grantId: G1, start: T0 - HOUR, end: T0 },
    ]);
    consent.stop();
  });
});
