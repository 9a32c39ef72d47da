// Paged listings on the wire: the request fields and their bounds, `next` in answers, and
// what a device built before paging makes of a page (it drops `next`, and the rest still checks).
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import {
  decodeClientFrame,
  decodeServerFrame,
  decodeServerFrameTolerant,
  encodeFrame,
  validate,
  validateTolerant,
} from './codec';
import { ERROR_CODES } from './errors';
import { SERVER_EXAMPLES } from './examples.test-util';
import { HttpDirectoryQuery, HttpDirectoryResponse } from './http-api';
import { GrantsFrame } from './messages';
import { MESSAGE_TABLE } from './protocol';
import {
  DirectoryCursorPayload,
  GrantsCursorPayload,
  MAX_CURSOR_CHARS,
  MAX_DIRECTORY_PAGE,
  MAX_GRANTS_PAGE,
} from './paging';
import { Rid } from './primitives';

const CURSOR = 'eyJ2IjoxfQ';
const codeOf = (result: { ok: boolean; error?: { code: string } }) => (result.ok ? 'ok' : result.error?.code);

describe('listGrants pages on the socket', () => {
  it('answers BAD_CURSOR among its errors', () => {
    expect(MESSAGE_TABLE.listGrants.errors).toContain('BAD_CURSOR');
    expect(ERROR_CODES.BAD_CURSOR).toMatchObject({ http: 400, retry: false });
  });

  it('takes cursor, limit, side and active, each bounded', () => {
    const frame = {
      t: 'listGrants',
      rid: 1,
      cursor: CURSOR,
      limit: MAX_GRANTS_PAGE,
      side: 'issued',
      active: true,
    };
    expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
    expect(codeOf(decodeClientFrame(JSON.stringify({ t: 'listGrants', rid: 1 })))).toBe('ok');
    const broken: Array<[Record<string, unknown>, string]> = [
      [{ limit: 0 }, 'BAD_MESSAGE'],
      [{ limit: MAX_GRANTS_PAGE + 1 }, 'BAD_MESSAGE'],
      [{ limit: 2.5 }, 'BAD_MESSAGE'],
      [{ side: 'both' }, 'BAD_MESSAGE'],
      [{ active: 'yes' }, 'BAD_MESSAGE'],
      [{ cursor: '' }, 'BAD_MESSAGE'],
      [{ cursor: 'a+b/c=' }, 'BAD_MESSAGE'],
      [{ cursor: 'a'.repeat(MAX_CURSOR_CHARS + 1) }, 'TOO_LARGE'],
      [{ offset: 10 }, 'BAD_MESSAGE'],
    ];
    for (const [fields, code] of broken) {
      const text = JSON.stringify({ t: 'listGrants', rid: 1, ...fields });
      expect(codeOf(decodeClientFrame(text)), text.slice(0, 80)).toBe(code);
    }
    expect(
      codeOf(
        decodeClientFrame(JSON.stringify({ t: 'listGrants', rid: 1, cursor: 'a'.repeat(MAX_CURSOR_CHARS) })),
      ),
    ).toBe('ok');
  });

  it('a page carries next; a device built before paging drops it and keeps the grants', () => {
    const grants = SERVER_EXAMPLES.find((f) => f.t === 'grants')!;
    const page = { ...grants, next: CURSOR };
    expect(decodeServerFrame(encodeFrame(page))).toEqual({ ok: true, value: page });
    expect(codeOf(decodeServerFrame(encodeFrame({ ...grants, next: 'not a cursor!' })))).toBe('BAD_MESSAGE');
    expect(decodeServerFrameTolerant(encodeFrame(page))).toEqual({ ok: true, value: page });
    // A tolerant build from before paging (its `grants` schema without `next`) takes the grants, drops next.
    const older = Type.Object(
      { t: Type.Literal('grants'), rid: Rid, grants: GrantsFrame.properties.grants },
      { additionalProperties: false },
    );
    expect(validateTolerant(older, page)).toEqual({ ok: true, value: grants });
    expect(validate(older, page).ok).toBe(false);
  });
});

describe('directory pages over HTTP', () => {
  it('takes cursor beside q and limit, bounded', () => {
    expect(validate(HttpDirectoryQuery, { q: 'x', limit: MAX_DIRECTORY_PAGE }).ok).toBe(true);
    expect(validate(HttpDirectoryQuery, { q: 'x', cursor: CURSOR }).ok).toBe(true);
    expect(validate(HttpDirectoryQuery, { paged: true }).ok).toBe(false);
    expect(validate(HttpDirectoryQuery, { cursor: '%%' }).ok).toBe(false);
    expect(validate(HttpDirectoryQuery, { limit: MAX_DIRECTORY_PAGE + 1 }).ok).toBe(false);
    expect(validate(HttpDirectoryResponse, { providers: [], next: CURSOR }).ok).toBe(true);
    expect(validate(HttpDirectoryResponse, { providers: [] }).ok).toBe(true);
  });
});

describe('cursor payloads (the server reads them back)', () => {
  const grants = {
    v: 1,
    k: 'grants',
    side: 'issued',
    issuedAt: '2025-01-01T00:00:00.000Z',
    grantId: 'g',
    active: false,
  };
  const directory = { v: 1, k: 'directory', q: '', name: 'Dr A', accountId: 'a' };

  it('are closed, of one listing each, with bounded keys', () => {
    expect(validate(GrantsCursorPayload, grants).ok).toBe(true);
    expect(validate(GrantsCursorPayload, { ...grants, only: 'received' }).ok).toBe(true);
    expect(validate(DirectoryCursorPayload, directory).ok).toBe(true);
    expect(validate(GrantsCursorPayload, directory).ok).toBe(false);
    expect(validate(DirectoryCursorPayload, grants).ok).toBe(false);
    expect(validate(GrantsCursorPayload, { ...grants, v: 2 }).ok).toBe(false);
    expect(validate(GrantsCursorPayload, { ...grants, offset: 3 }).ok).toBe(false);
    expect(validate(GrantsCursorPayload, { ...grants, grantId: '' }).ok).toBe(false);
    expect(validate(GrantsCursorPayload, { ...grants, issuedAt: 'x'.repeat(65) }).ok).toBe(false);
    expect(validate(DirectoryCursorPayload, { ...directory, name: '' }).ok).toBe(false);
    expect(validate(DirectoryCursorPayload, { ...directory, q: 'x'.repeat(101) }).ok).toBe(false);
  });
});
