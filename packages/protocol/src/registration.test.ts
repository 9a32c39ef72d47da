// Registration control on the wire: the optional invite of a registration, the server's announced mode,
// and their two error codes.
import { describe, expect, it } from 'vitest';
import { validate, validateTolerant } from './codec';
import { ERROR_CODES } from './errors';
import { registerBody } from './examples.test-util';
import {
  HttpRegisterRequest,
  HttpServerInfo,
  INVITE_CODE_PATTERN,
  REGISTRATION_MODES,
  normalizeInviteCode,
} from './http-api';

const CODE = '7K3MQ9XDA1B2C3D4E5F6G7H8J9KMNPQR';

describe('HttpRegisterRequest.invite', () => {
  it('is optional: a registration from an older client, without it, still validates', () => {
    expect(validate(HttpRegisterRequest, registerBody()).ok).toBe(true);
    expect(validate(HttpRegisterRequest, { ...registerBody(), invite: CODE }).ok).toBe(true);
  });

  it('is the bare Crockford form, 16 to 64 symbols: anything else is refused', () => {
    for (const invite of [
      '7K3M-Q9XD-A1B2-C3D4-E5F6-G7H8-J9KM-NPQR',
      CODE.toLowerCase(),
      `${CODE}U`,
      'ILOU'.repeat(8),
      'A'.repeat(15),
      'A'.repeat(65),
      '',
      42,
    ]) {
      const checked = validate(HttpRegisterRequest, { ...registerBody(), invite });
      expect(checked.ok, String(invite)).toBe(false);
    }
    expect(new RegExp(INVITE_CODE_PATTERN).test('A'.repeat(16))).toBe(true);
    expect(new RegExp(INVITE_CODE_PATTERN).test('A'.repeat(64))).toBe(true);
  });
});

describe('normalizeInviteCode', () => {
  it('folds what a person types or pastes into the wire form', () => {
    expect(normalizeInviteCode('7K3M-Q9XD-A1B2-C3D4-E5F6-G7H8-J9KM-NPQR')).toBe(CODE);
    expect(normalizeInviteCode(' 7k3m q9xd a1b2 c3d4\te5f6 g7h8 j9km npqr\n')).toBe(CODE);
    // Full-width forms (an East Asian keyboard) and Crockford's look-alikes (I, L → 1; O → 0).
    expect(normalizeInviteCode('７K3M-Q9XD-AlB2-C3D4-E5F6-G7H8-J9KM-NPQR')).toBe(CODE);
    expect(normalizeInviteCode('OOOO-IIII-LLLL-oooo')).toBe('0000111111110000');
  });

  it('answers null for what is still not a code', () => {
    for (const typed of ['', 'too-short', `${CODE}U`, `${CODE}!`, 'A'.repeat(65)]) {
      expect(normalizeInviteCode(typed), typed).toBeNull();
    }
  });
});

describe('HttpServerInfo.registration', () => {
  const info = { serverId: 'S'.repeat(22), publicKey: 'A'.repeat(43), versions: [1, 6] };

  it('is optional (older servers leave it out) and carries each mode', () => {
    expect(validate(HttpServerInfo, info).ok).toBe(true);
    for (const registration of REGISTRATION_MODES) {
      expect(validate(HttpServerInfo, { ...info, registration }).ok).toBe(true);
    }
  });

  it('takes a mode a later server adds, so older devices do not refuse the whole answer', () => {
    const checked = validateTolerant(HttpServerInfo, { ...info, registration: 'approval' });
    expect(checked.ok && checked.value.registration).toBe('approval');
    expect(validate(HttpServerInfo, { ...info, registration: 'Open Sesame' }).ok).toBe(false);
    expect(validate(HttpServerInfo, { ...info, registration: 'x'.repeat(33) }).ok).toBe(false);
  });
});

describe('registration error codes', () => {
  it('are final refusals with a 403, so clients that do not know them read FORBIDDEN', () => {
    for (const code of ['REGISTRATION_CLOSED', 'INVITE_INVALID'] as const) {
      expect(ERROR_CODES[code]).toMatchObject({ http: 403, retry: false, action: 'fix-request' });
    }
  });
});
