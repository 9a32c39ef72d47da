import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { base64urlDecode as decodeResult, base64urlEncode } from './encoding';
import { unwrapResult } from './errors';

const base64urlDecode = (text: string): Uint8Array => unwrapResult(decodeResult(text));
import { openSealedText, sealedTextMaxBytes, sealText, TEXT_PAD_BYTES } from './sealed-text';

const pair = () => {
  const kp = nacl.box.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
};
const ctx = { label: 'hale/grant-purpose/v1', bind: '01JABCDEFGHJKMNPQRSTVWXYZ0' };

describe('sealed text', () => {
  it('opens for its recipient and context only', () => {
    const me = pair();
    const sealed = sealText('HIV follow-up', me.publicKey, ctx);
    expect(sealed).not.toContain('HIV follow-up');
    expect(sealed).not.toContain(base64urlEncode(new TextEncoder().encode('HIV follow-up')).slice(0, 12));
    expect(openSealedText(sealed, me, ctx)).toEqual({ ok: true, value: 'HIV follow-up' });
    expect(openSealedText(sealed, pair(), ctx)).toMatchObject({ ok: false, error: { code: 'WRONG_KEY' } });
    expect(openSealedText(sealed, me, { ...ctx, bind: 'another grant' })).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
    expect(openSealedText(sealed, me, { ...ctx, label: 'hale/device-name/v1' })).toMatchObject({
      ok: false,
      error: { code: 'CONTEXT_MISMATCH' },
    });
  });

  it('refuses a changed byte', () => {
    const me = pair();
    const bytes = base64urlDecode(sealText('care', me.publicKey, ctx));
    bytes[bytes.length - 3]! ^= 1;
    expect(openSealedText(base64urlEncode(bytes), me, ctx)).toMatchObject({
      ok: false,
      error: { code: 'TAMPERED' },
    });
  });

  it('tells only a length bucket: texts of different lengths in one bucket seal to one length', () => {
    const me = pair();
    const a = base64urlDecode(sealText('', me.publicKey, ctx)).length;
    const b = base64urlDecode(sealText('Zebulon', me.publicKey, ctx)).length;
    const c = base64urlDecode(sealText('x'.repeat(TEXT_PAD_BYTES), me.publicKey, ctx)).length;
    expect(a).toBe(b);
    expect(c).toBeGreaterThan(a);
  });

  it('keeps within sealedTextMaxBytes for the worst text of a length, and NUL characters survive', () => {
    const me = pair();
    for (const worst of ['\u0001'.repeat(500), '😀'.repeat(250), '\u0000'.repeat(500)]) {
      const sealed = sealText(worst, me.publicKey, ctx);
      expect(base64urlDecode(sealed).length).toBeLessThanOrEqual(sealedTextMaxBytes(500, ctx));
      expect(openSealedText(sealed, me, ctx)).toEqual({ ok: true, value: worst });
    }
  });
});
