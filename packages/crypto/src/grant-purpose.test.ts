import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from './encoding';
import { unwrapResult } from './errors';
import { openGrantPurpose, sealGrantPurpose } from './grant-purpose';

const pair = () => {
  const kp = nacl.box.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
};
const GRANT = '01JABCDEFGHJKMNPQRSTVWXYZ0';
const bytesOf = (b64: string): Uint8Array => unwrapResult(base64urlDecode(b64));

describe('a sealed grant purpose', () => {
  const patient = pair();
  const grantee = pair();
  const sealed = sealGrantPurpose('HIV follow-up', GRANT, patient.publicKey, grantee.publicKey);

  it('opens for the patient and the grantee, each through its own slot, and no one else', () => {
    expect(JSON.stringify(sealed)).not.toContain('HIV follow-up');
    expect(openGrantPurpose(sealed, sealed.patient, GRANT, patient)).toEqual({
      ok: true,
      value: 'HIV follow-up',
    });
    expect(openGrantPurpose(sealed, sealed.grantee, GRANT, grantee)).toEqual({
      ok: true,
      value: 'HIV follow-up',
    });
    expect(openGrantPurpose(sealed, sealed.patient, GRANT, grantee)).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
    expect(openGrantPurpose(sealed, sealed.grantee, GRANT, pair())).toMatchObject({ ok: false });
  });

  it('is bound to its grant, and refuses a changed ciphertext', () => {
    expect(openGrantPurpose(sealed, sealed.patient, '01JABCDEFGHJKMNPQRSTVWXYZ1', patient)).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
    const ct = bytesOf(sealed.ct);
    ct[ct.length - 1]! ^= 1;
    expect(openGrantPurpose({ ct: base64urlEncode(ct) }, sealed.patient, GRANT, patient)).toMatchObject({
      ok: false,
      error: { code: 'TAMPERED' },
    });
    // Another grant's ciphertext under this grant's slot: another key, so it does not authenticate.
    const other = sealGrantPurpose('care', GRANT, patient.publicKey, grantee.publicKey);
    expect(openGrantPurpose(other, sealed.patient, GRANT, patient).ok).toBe(false);
  });

  it('tells only a length bucket, and keeps the worst text of 500 characters within the protocol bound', () => {
    const short = bytesOf(sealGrantPurpose('', GRANT, patient.publicKey, grantee.publicKey).ct).length;
    const longer = bytesOf(
      sealGrantPurpose('x'.repeat(100), GRANT, patient.publicKey, grantee.publicKey).ct,
    ).length;
    expect(longer).toBe(short);
    for (const worst of ['\uffff'.repeat(500), '😀'.repeat(250), '\u0000'.repeat(500)]) {
      const s = sealGrantPurpose(worst, GRANT, patient.publicKey, grantee.publicKey);
      // MAX_SEALED_PURPOSE_BYTES and MAX_PURPOSE_SLOT_BYTES in @hale/protocol.
      expect(bytesOf(s.ct).length).toBeLessThanOrEqual(1_576);
      expect(bytesOf(s.patient).length).toBeLessThanOrEqual(256);
      expect(openGrantPurpose(s, s.grantee, GRANT, grantee)).toEqual({ ok: true, value: worst });
    }
  });
});
