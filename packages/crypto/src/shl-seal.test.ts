import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { openLinkDetails, openLinkRecipient, sealLinkDetails, sealLinkRecipient } from './shl-seal';

const pair = () => {
  const kp = nacl.box.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
};

describe('a shared link’s sealed texts', () => {
  it('open for the patient, for their link and use only', () => {
    const patient = pair();
    const details = sealLinkDetails('{"label":"For Dr Lee"}', patient.publicKey, 'link-1');
    const name = sealLinkRecipient('Dr Lee', patient.publicKey, 'link-1');
    expect(details).not.toContain('Dr Lee');
    expect(openLinkDetails(details, patient, 'link-1')).toEqual({
      ok: true,
      value: '{"label":"For Dr Lee"}',
    });
    expect(openLinkRecipient(name, patient, 'link-1')).toEqual({ ok: true, value: 'Dr Lee' });
    // Another account's key, another link, or the other kind of text: none opens.
    expect(openLinkDetails(details, pair(), 'link-1')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
    expect(openLinkDetails(details, patient, 'link-2')).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
    expect(openLinkRecipient(name, patient, 'link-2')).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
    expect(openLinkRecipient(details, patient, 'link-1')).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
  });
});
