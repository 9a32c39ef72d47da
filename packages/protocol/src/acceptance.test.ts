// Accepting patients on the wire: `acceptPatient` and `listAccepted` → `acceptedPatients`, their fields
// and bounds, and the code that refuses one acceptance too many.
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, encodeFrame, validate } from './codec';
import { AcceptedCursorPayload } from './consent';
import { ERROR_CODE_LIST, ERROR_CODES } from './errors';
import { PATIENT, T0 } from './examples.test-util';
import {
  DEFAULT_ACCEPTED_PAGE,
  MAX_ACCEPTED_PAGE,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_FRAME_BYTES,
} from './limits';
import { MAX_CURSOR_CHARS } from './paging';
import { MESSAGE_TABLE } from './protocol';

const CURSOR = 'eyJ2IjoxfQ';
const codeOf = (result: { ok: boolean; error?: { code: string } }) => (result.ok ? 'ok' : result.error?.code);

describe('acceptance on the socket', () => {
  it('refuses one acceptance too many with a code of its own, appended to the table', () => {
    expect(ERROR_CODES.TOO_MANY_ACCEPTED).toMatchObject({ http: 409, retry: false, action: 'fix-request' });
    expect(ERROR_CODE_LIST.indexOf('TOO_MANY_ACCEPTED')).toBeGreaterThan(
      ERROR_CODE_LIST.indexOf('BLOB_DELETED'),
    );
    expect(MESSAGE_TABLE.acceptPatient).toMatchObject({ reply: ['ok'], beforeReady: false });
    expect(MESSAGE_TABLE.acceptPatient.errors).toEqual(
      expect.arrayContaining(['FORBIDDEN', 'NOT_FOUND', 'TOO_MANY_ACCEPTED', 'UNAUTHENTICATED']),
    );
    expect(MESSAGE_TABLE.listAccepted).toMatchObject({ reply: ['acceptedPatients'], beforeReady: false });
    expect(MESSAGE_TABLE.listAccepted.errors).toContain('BAD_CURSOR');
  });

  it('bounds the accepted list above the stranger cap, and a page well under a frame', () => {
    expect(MAX_ACCEPTED_PATIENTS_PER_GRANTEE).toBeGreaterThan(MAX_ACTIVE_GRANTS_PER_GRANTEE);
    expect(DEFAULT_ACCEPTED_PAGE).toBeLessThanOrEqual(MAX_ACCEPTED_PAGE);
    const page = {
      t: 'acceptedPatients',
      rid: Number.MAX_SAFE_INTEGER,
      patients: Array.from({ length: MAX_ACCEPTED_PAGE }, () => ({ patientId: PATIENT, acceptedAt: T0 })),
      next: 'a'.repeat(MAX_CURSOR_CHARS),
    };
    const text = encodeFrame(page as Parameters<typeof encodeFrame>[0]);
    expect(decodeServerFrame(text)).toEqual({ ok: true, value: page });
    expect(text.length).toBeLessThan(MAX_FRAME_BYTES / 50);
  });

  it('acceptPatient names one account and says which way', () => {
    for (const accept of [true, false]) {
      const frame = { t: 'acceptPatient', rid: 1, patientId: PATIENT, accept };
      expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
    }
    const broken: Array<[Record<string, unknown>, string]> = [
      [{ patientId: 'short' }, 'BAD_MESSAGE'],
      [{ patientId: `${PATIENT}x` }, 'BAD_MESSAGE'],
      [{ patientId: 'Patient/Account+012345' }, 'BAD_MESSAGE'],
      [{ patientId: 'P'.repeat(100_000) }, 'BAD_MESSAGE'],
      [{ accept: 'yes' }, 'BAD_MESSAGE'],
      [{ accept: undefined }, 'BAD_MESSAGE'],
      [{ patientId: undefined }, 'BAD_MESSAGE'],
      [{ rid: undefined }, 'BAD_MESSAGE'],
      [{ patientIds: [PATIENT] }, 'BAD_MESSAGE'],
    ];
    for (const [fields, code] of broken) {
      const text = JSON.stringify({
        t: 'acceptPatient',
        rid: 1,
        patientId: PATIENT,
        accept: true,
        ...fields,
      });
      expect(codeOf(decodeClientFrame(text)), text.slice(0, 80)).toBe(code);
    }
    const huge = JSON.stringify({ t: 'acceptPatient', rid: 1, patientId: PATIENT, accept: true, pad: '' });
    expect(codeOf(decodeClientFrame(huge.replace('""', `"${'x'.repeat(MAX_FRAME_BYTES)}"`)))).toBe(
      'TOO_LARGE',
    );
  });

  it('listAccepted takes a cursor and a limit, each bounded; the answer may carry next', () => {
    const frame = { t: 'listAccepted', rid: 1, cursor: CURSOR, limit: MAX_ACCEPTED_PAGE };
    expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
    const broken: Array<[Record<string, unknown>, string]> = [
      [{ limit: 0 }, 'BAD_MESSAGE'],
      [{ limit: MAX_ACCEPTED_PAGE + 1 }, 'BAD_MESSAGE'],
      [{ limit: 1.5 }, 'BAD_MESSAGE'],
      [{ cursor: '' }, 'BAD_MESSAGE'],
      [{ cursor: 'a+b/c=' }, 'BAD_MESSAGE'],
      [{ cursor: 'a'.repeat(MAX_CURSOR_CHARS + 1) }, 'TOO_LARGE'],
      [{ side: 'issued' }, 'BAD_MESSAGE'],
    ];
    for (const [fields, code] of broken) {
      const text = JSON.stringify({ t: 'listAccepted', rid: 1, ...fields });
      expect(codeOf(decodeClientFrame(text)), text.slice(0, 80)).toBe(code);
    }
    const page = { t: 'acceptedPatients', rid: 1, patients: [], next: CURSOR };
    expect(decodeServerFrame(JSON.stringify(page))).toEqual({ ok: true, value: page });
    for (const patients of [
      [{ patientId: 'short', acceptedAt: T0 }],
      [{ patientId: PATIENT, acceptedAt: 'yesterday' }],
      [{ patientId: PATIENT }],
      [{ patientId: PATIENT, acceptedAt: T0, grants: 3 }],
      Array.from({ length: MAX_ACCEPTED_PAGE + 1 }, () => ({ patientId: PATIENT, acceptedAt: T0 })),
    ]) {
      expect(codeOf(decodeServerFrame(JSON.stringify({ t: 'acceptedPatients', rid: 1, patients })))).not.toBe(
        'ok',
      );
    }
  });

  it("the accepted cursor is the server's own payload, closed and bounded", () => {
    expect(validate(AcceptedCursorPayload, { v: 1, k: 'accepted', patientId: PATIENT }).ok).toBe(true);
    for (const payload of [
      { v: 1, k: 'grants', patientId: PATIENT },
      { v: 2, k: 'accepted', patientId: PATIENT },
      { v: 1, k: 'accepted', patientId: '' },
      { v: 1, k: 'accepted', patientId: 'p'.repeat(65) },
      { v: 1, k: 'accepted', patientId: PATIENT, extra: 1 },
    ]) {
      expect(validate(AcceptedCursorPayload, payload).ok, JSON.stringify(payload)).toBe(false);
    }
  });
});
