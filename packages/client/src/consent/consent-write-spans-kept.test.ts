// A revocation the patient signs on this device while the server cannot take it (offline, or its answer
// lost) is kept and sent later. Meanwhile this device knows the grant ended: the grantee's write span must
// end at the revocation's signed time, as it will once the server lists it. Before, the span ran on until
// the server took it, so a write dated after the revocation was shown here and refused (NO_WRITE_GRANT)
// by the devices that learnt the revocation from the server.
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

describe('a revocation kept on this device, not taken by the server yet', () => {
  it("ends the grantee's write span at its signed time", async () => {
    const clock = { now: T0 };
    // Offline: a revocation is signed and kept, not sent.
    const { consent, net, sent } = stubConsent({ ed: createNodeEd25519(), clock, held: [grant] });
    net.status = 'offline';
    try {
      expect(await consent.writeSpans(PATIENT, 'lab-result', GRANTEE)).toEqual([
        { grantId: G1, start: T0 - HOUR, end: T0 + 100 * HOUR },
      ]);
      // Offline: signed and kept, not sent.
      await expect(consent.revoke(G1)).rejects.toThrow();
      expect(sent).toHaveLength(0);
      clock.now = T0 + HOUR;
      expect(await consent.writeSpans(PATIENT, 'lab-result', GRANTEE)).toEqual([
        { grantId: G1, start: T0 - HOUR, end: T0 },
      ]);
      // The same span as a device that learns the revocation from the server will hold.
      const learnt: StoredGrant = { grant, sig: 'A'.repeat(86), revokedAt: new Date(T0).toISOString() };
      expect(writeSpansOf([learnt], PATIENT, 'lab-result', GRANTEE)).toEqual([
        { grantId: G1, start: T0 - HOUR, end: T0 },
      ]);
    } finally {
      consent.stop();
    }
  });
});
