import { describe, expect, it } from 'vitest';
import {
  inviteIn,
  inviteLink,
  safetyCodeIn,
  safetyDigitsIn,
  safetyMatches,
  safetyQrText,
  safetyRows,
} from './invite';

const INVITE = 'hale-invite:1:AbCdEfGhIjKlMnOpQrStUv:0123456789abcdef0123456789abcdef';
const ACCOUNT = 'AbCdEfGhIjKlMnOpQrStUv';

describe('invites and safety numbers', () => {
  it('finds the invite in raw text, a link and a percent-encoded link', () => {
    expect(inviteIn(`  ${INVITE}\n`)).toBe(INVITE);
    expect(inviteIn(`https://hale.example.org/care/sharing/new?invite=${INVITE}`)).toBe(INVITE);
    expect(inviteIn(`https://h.example/care/sharing/new?invite=${encodeURIComponent(INVITE)}`)).toBe(INVITE);
    expect(inviteIn('hale-invite:1:short:00')).toBeNull();
    expect(inviteIn('%E0%A4%A')).toBeNull();
    expect(inviteIn(inviteLink('https://hale.example.org', INVITE))).toBe(INVITE);
  });

  it('reads a safety number back from its QR text or typed digits', () => {
    const number = '12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890';
    const digits = number.replaceAll(' ', '');
    expect(safetyDigitsIn(safetyQrText(number, ACCOUNT))).toBe(digits);
    expect(safetyDigitsIn(`hale-safety:1:${digits}`)).toBe(digits);
    expect(safetyDigitsIn(number)).toBe(digits);
    expect(safetyDigitsIn('hale-safety:1:12ab')).toBeNull();
    expect(safetyRows(number)).toHaveLength(3);
    expect(safetyRows(number)[0]).toEqual(['12345', '67890', '12345', '67890']);
  });

  it("matches a scanned code only with the same digits, shown by the other side's account", () => {
    const digits = '1234567890'.repeat(6);
    const other = digits.replace(/^1/, '9');
    const theirs = safetyCodeIn(safetyQrText(digits, ACCOUNT));
    expect(theirs).toEqual({ accountId: ACCOUNT, digits });
    expect(safetyMatches(theirs, digits, ACCOUNT)).toBe(true);
    expect(safetyMatches(theirs, other, ACCOUNT)).toBe(false);
    // The right digits on a third account's screen: not the person in front of you.
    expect(safetyMatches(theirs, digits, 'ZyXwVuTsRqPoNmLkJiHgFe')).toBe(false);
    // An older app's code says no account: the digits decide.
    expect(safetyMatches(safetyCodeIn(`hale-safety:1:${digits}`), digits, ACCOUNT)).toBe(true);
    expect(safetyMatches(safetyCodeIn('hale-invite:1:x'), digits, ACCOUNT)).toBe(false);
  });
});
