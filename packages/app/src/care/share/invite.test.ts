import { describe, expect, it } from 'vitest';
import { inviteIn, safetyDigitsIn, safetyQrText, safetyRows } from './invite';

const INVITE = 'hale-invite:1:AbCdEfGhIjKlMnOpQrStUv:0123456789abcdef0123456789abcdef';

describe('invites and safety numbers', () => {
  it('finds the invite in raw text, a link and a percent-encoded link', () => {
    expect(inviteIn(`  ${INVITE}\n`)).toBe(INVITE);
    expect(inviteIn(`https://hale.example.org/care/sharing/new?invite=${INVITE}`)).toBe(INVITE);
    expect(inviteIn(`https://h.example/care/sharing/new?invite=${encodeURIComponent(INVITE)}`)).toBe(INVITE);
    expect(inviteIn('hale-invite:1:short:00')).toBeNull();
    expect(inviteIn('%E0%A4%A')).toBeNull();
  });

  it('reads a safety number back from its QR text or typed digits', () => {
    const number = '12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890';
    const digits = number.replaceAll(' ', '');
    expect(safetyDigitsIn(safetyQrText(number))).toBe(digits);
    expect(safetyDigitsIn(number)).toBe(digits);
    expect(safetyDigitsIn('hale-safety:1:12ab')).toBeNull();
    expect(safetyRows(number)).toHaveLength(3);
    expect(safetyRows(number)[0]).toEqual(['12345', '67890', '12345', '67890']);
  });
});
