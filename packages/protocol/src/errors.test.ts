import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_CODE_LIST, ProtocolError, errorInfo, isErrorCode, protocolError } from './errors';

// Append-only pin: new codes go at the END of this list and of ERROR_CODES. Removing, renaming or
// reordering a code breaks deployed clients that switch on it, and fails this test.
const PINNED = [
  'BAD_MESSAGE',
  'TOO_LARGE',
  'UNSUPPORTED_VERSION',
  'UNAUTHENTICATED',
  'SESSION_EXPIRED',
  'CHALLENGE_INVALID',
  'BAD_SIGNATURE',
  'FORBIDDEN',
  'NO_CONSENT',
  'CONSENT_EXPIRED',
  'CONSENT_REVOKED',
  'DEVICE_REVOKED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'APPEND_ONLY',
  'STALE_EPOCH',
  'REV_MISMATCH',
  'DIGEST_MISMATCH',
  'RATE_LIMITED',
  'TOO_MANY_CONNECTIONS',
  'UNAVAILABLE',
  'INTERNAL',
  'TOO_MANY_GRANTS',
  'BAD_CURSOR',
  'QUOTA_EXCEEDED',
  'REGISTRATION_CLOSED',
  'INVITE_INVALID',
  'BLOB_DELETED',
  'TOO_MANY_ACCEPTED',
  'TOO_MANY_DEVICES',
  'HEAD_NOT_CURRENT',
  'HEAD_MISMATCH',
  'HEAD_STALE',
  'AVAILABILITY_STALE',
  'PAIRING_UNKNOWN',
  'PAIRING_TAKEN',
  'NOT_AUTHOR',
  'GROUP_REFUSED',
  'GRANT_NOT_SUPERSEDABLE',
  'GRANT_SUPERSEDED',
];

describe('ERROR_CODES', () => {
  it('is append-only: the pinned codes come first, in order', () => {
    expect(ERROR_CODE_LIST.slice(0, PINNED.length)).toEqual(PINNED);
    expect(Object.keys(ERROR_CODES).slice(0, PINNED.length)).toEqual(PINNED);
  });

  it('gives every code an error HTTP status, a retry flag and a description', () => {
    for (const code of ERROR_CODE_LIST) {
      const info = errorInfo(code);
      expect(info.http, code).toBeGreaterThanOrEqual(400);
      expect(info.http, code).toBeLessThan(600);
      expect(typeof info.retry).toBe('boolean');
      expect(info.description.length).toBeGreaterThan(10);
      // A retryable code must tell the client to back off, never to resend at once.
      if (info.retry) expect(info.action, code).toBe('backoff');
    }
  });

  it('uses upper snake case codes that the wire pattern accepts', () => {
    for (const code of ERROR_CODE_LIST) expect(code).toMatch(/^[A-Z][A-Z0-9_]{0,63}$/);
  });
});

describe('isErrorCode', () => {
  it('accepts table codes only, not inherited object keys or other values', () => {
    expect(isErrorCode('NO_CONSENT')).toBe(true);
    for (const value of ['toString', '__proto__', 'constructor', 'no_consent', '', 7, null, undefined]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe('protocolError / ProtocolError', () => {
  it('builds a plain object and omits absent details', () => {
    expect(protocolError('NOT_FOUND', 'no such blob')).toStrictEqual({
      code: 'NOT_FOUND',
      message: 'no such blob',
    });
    expect(protocolError('RATE_LIMITED', 'slow', { retryAfterMs: 5 })).toStrictEqual({
      code: 'RATE_LIMITED',
      message: 'slow',
      details: { retryAfterMs: 5 },
    });
  });

  it('throws as an Error carrying the code and round-trips to JSON', () => {
    const thrown = new ProtocolError(protocolError('FORBIDDEN', 'nope', { stream: 's' }));
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown.code).toBe('FORBIDDEN');
    expect(thrown.toJSON()).toStrictEqual({ code: 'FORBIDDEN', message: 'nope', details: { stream: 's' } });
  });
});
