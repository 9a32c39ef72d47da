// A device reading a newer server: unknown properties are dropped, everything known is checked as before.
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { stripExtraProperties } from './checker';
import {
  decodeClientFrame,
  decodeServerFrame,
  decodeServerFrameTolerant,
  encodeFrame,
  validate,
  validateTolerant,
} from './codec';
import {
  ALLERGY,
  CLIENT_EXAMPLES,
  SERVER_EXAMPLES,
  b64,
  registerBody,
  servedDoc,
} from './examples.test-util';
import { HttpAccountResponse, HttpErrorBody, HttpRegisterRequest, HttpWrappingKeyRequest } from './http-api';
import { MAX_DOC_BYTES, MAX_FRAME_BYTES } from './limits';
import { PushedFrame } from './messages';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const clone = (value: unknown): Json => JSON.parse(JSON.stringify(value)) as Json;

const ADDED: Json = { by: 'a newer server', n: [1, 'two', null] };

/**
 * `value` with a property a newer build might add in every object, at every depth. Not inside error
 * `details`, a record whose every key is data (kept by both checks).
 */
function withAdded(value: Json, path = ''): Json {
  if (Array.isArray(value)) return value.map((item, i) => withAdded(item, `${path}/${i}`));
  if (value === null || typeof value !== 'object' || path.startsWith('/details')) return value;
  const out: { [key: string]: Json } = {};
  for (const [key, item] of Object.entries(value)) out[key] = withAdded(item, `${path}/${key}`);
  out['addedLater'] = ADDED;
  return out;
}

/** Every path (JSON Pointer) in a value, with whether it is a leaf and whether its parent is an object. */
function paths(value: Json): { path: string; leaf: boolean; inObject: boolean }[] {
  const out: { path: string; leaf: boolean; inObject: boolean }[] = [];
  const visit = (node: Json, at: string, inObject: boolean) => {
    const leaf = node === null || typeof node !== 'object';
    if (at !== '') out.push({ path: at, leaf, inObject });
    if (Array.isArray(node)) node.forEach((child, i) => visit(child, `${at}/${i}`, false));
    else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) visit(child, `${at}/${key}`, true);
    }
  };
  visit(value, '', false);
  return out;
}

function edit(value: Json, path: string, change: (parent: Record<string, Json>, key: string) => void) {
  const keys = path.split('/').slice(1);
  let node: Json = value;
  for (const key of keys.slice(0, -1)) node = (node as Record<string, Json>)[key] as Json;
  change(node as Record<string, Json>, keys[keys.length - 1]!);
}

const wrongType = (leaf: Json): Json => (typeof leaf === 'string' || leaf === null ? 12345 : 'wrong type');

// Fields the schemas declare optional (as in codec.test.ts): deleting one keeps the frame valid.
const OPTIONAL = [
  /^ready\/wrappedRootGen$/,
  /^(streams|accessChanged)\/streams\/0\/(grantId|expiresAt)$/,
  /^envelopes\/envelopes\/0\/sig$/,
  /^grant\/grant\/grant\/supersedes$/,
  /^grants\/grants\/0\/(revokedAt|revocation|supersededBy|supersededBy\/grant\/supersedes)$/,
  /^error\/(rid|details|details\/retryAfterMs)$/,
  /^getHead\/(after|limit)$/,
  /^head\/(signed|next)$/,
];

describe('decodeServerFrameTolerant: frames from a newer server', () => {
  it.each(SERVER_EXAMPLES.map((frame) => [frame.t, frame] as const))(
    'takes %s with added properties at every depth, and passes none of them on',
    (_t, frame) => {
      const text = JSON.stringify(withAdded(clone(frame)));
      expect(decodeServerFrameTolerant(text)).toStrictEqual({ ok: true, value: frame });
      // The strict decoder (what server tests check the server with) still names the first one.
      const strict = decodeServerFrame(text);
      expect(!strict.ok && strict.error.code).toBe('BAD_MESSAGE');
    },
  );

  it.each(SERVER_EXAMPLES.map((frame) => [frame.t, frame] as const))(
    'takes an exact %s as the strict decoder does',
    (_t, frame) => {
      expect(decodeServerFrameTolerant(encodeFrame(frame))).toStrictEqual(
        decodeServerFrame(encodeFrame(frame)),
      );
    },
  );

  it.each(SERVER_EXAMPLES.map((frame) => [frame.t, frame] as const))(
    'refuses %s with any known field of the wrong type, added properties or not, with the same error',
    (_t, frame) => {
      for (const { path, leaf } of paths(clone(frame))) {
        if (!leaf || path.startsWith('/details')) continue;
        const mutated = clone(frame);
        edit(mutated, path, (parent, key) => {
          parent[key] = wrongType(parent[key] ?? null);
        });
        const before = decodeServerFrame(JSON.stringify(mutated));
        expect(before.ok, path).toBe(false);
        expect(decodeServerFrameTolerant(JSON.stringify(withAdded(mutated))), path).toStrictEqual(before);
      }
    },
  );

  it.each(SERVER_EXAMPLES.map((frame) => [frame.t, frame] as const))(
    'refuses %s without any required field, added properties or not, with the same error',
    (t, frame) => {
      for (const { path, inObject } of paths(clone(frame))) {
        if (!inObject) continue;
        const mutated = clone(frame);
        edit(mutated, path, (parent, key) => {
          delete parent[key];
        });
        const tolerant = decodeServerFrameTolerant(JSON.stringify(withAdded(mutated)));
        if (OPTIONAL.some((re) => re.test(`${t}${path}`))) {
          expect(tolerant, path).toStrictEqual({ ok: true, value: mutated });
        } else {
          const before = decodeServerFrame(JSON.stringify(mutated));
          expect(before.ok, path).toBe(false);
          expect(tolerant, path).toStrictEqual(before);
        }
      }
    },
  );

  it('keeps size limits: an oversize field is TOO_LARGE, an oversize frame is TOO_LARGE before parsing', () => {
    const frame = {
      t: 'changes',
      docs: [servedDoc({ seq: 1 })],
      streams: [{ stream: ALLERGY, checkpoint: 1 }],
    };
    const long = clone(frame);
    edit(long, '/docs/0/ct', (parent, key) => {
      parent[key] = b64(MAX_DOC_BYTES + 3, 'c');
    });
    const tolerant = decodeServerFrameTolerant(JSON.stringify(withAdded(long)));
    expect(!tolerant.ok && tolerant.error.code).toBe('TOO_LARGE');
    expect(tolerant).toStrictEqual(decodeServerFrame(JSON.stringify(long)));

    const padded = JSON.stringify({ ...frame, addedLater: 'x'.repeat(MAX_FRAME_BYTES) });
    const huge = decodeServerFrameTolerant(padded);
    expect(!huge.ok && huge.error.code).toBe('TOO_LARGE');
  });

  it('keeps the protocol rules: served docs out of seq order are refused', () => {
    const frame = withAdded(
      clone({
        t: 'changes',
        docs: [servedDoc({ seq: 5 }), servedDoc({ seq: 4, id: '01HZY3K8Q5N9V7W2X4Y6Z8A0BD' })],
        streams: [{ stream: ALLERGY, checkpoint: 5 }],
      }),
    );
    const result = decodeServerFrameTolerant(JSON.stringify(frame));
    expect(!result.ok && result.error).toMatchObject({
      code: 'BAD_MESSAGE',
      details: { issues: [{ path: '/docs/1/seq' }] },
    });
  });

  it('still refuses a frame type it does not know, keeping the rid', () => {
    const result = decodeServerFrameTolerant('{"t":"somethingNew","rid":4,"x":1}');
    expect(!result.ok && result.error).toMatchObject({ code: 'BAD_MESSAGE', rid: 4 });
  });
});

describe('what the server receives stays strict', () => {
  it('decodeClientFrame refuses every request with one added property', () => {
    for (const frame of CLIENT_EXAMPLES) {
      const result = decodeClientFrame(JSON.stringify({ ...frame, addedLater: 1 }));
      expect(!result.ok && result.error.code, frame.t).toBe('BAD_MESSAGE');
    }
  });

  it('validate refuses an HTTP request body with an added property, nested or not', () => {
    expect(validate(HttpRegisterRequest, registerBody()).ok).toBe(true);
    const top = validate(HttpRegisterRequest, { ...registerBody(), addedLater: 1 });
    expect(!top.ok && top.error.details.issues[0]?.path).toBe('/addedLater');
    const body = registerBody();
    const nested = validate(HttpRegisterRequest, { ...body, account: { ...body.account, addedLater: 1 } });
    expect(!nested.ok && nested.error.details.issues[0]?.path).toBe('/account/addedLater');
  });
});

describe('validateTolerant: HTTP answers from a newer server', () => {
  const body = registerBody();
  const answer = {
    accountId: body.account.accountId,
    role: body.account.role,
    identityPublicKey: body.account.identityPublicKey,
    wrappingPublicKey: body.account.wrappingPublicKey,
    wrappingKeySig: body.sig,
    devices: [body.device],
    revokedDevices: [],
  };

  it('drops added properties, top-level and nested, and checks the rest', () => {
    expect(validate(HttpAccountResponse, answer).ok).toBe(true);
    const newer = clone(answer) as Record<string, Json>;
    newer['addedLater'] = ADDED;
    const device = (newer['devices'] as Record<string, Json>[])[0]!;
    device['addedLater'] = 1;
    (device['cert'] as Record<string, Json>)['addedLater'] = 'x';
    expect(validate(HttpAccountResponse, newer).ok).toBe(false);
    expect(validateTolerant(HttpAccountResponse, newer)).toStrictEqual({ ok: true, value: answer });
    // The caller's value is left as it was.
    expect(newer['addedLater']).toEqual(ADDED);

    const broken = { ...newer, wrappingKeySig: 'not a signature' };
    const refused = validateTolerant(HttpAccountResponse, broken);
    expect(refused).toStrictEqual(
      validate(HttpAccountResponse, { ...answer, wrappingKeySig: 'not a signature' }),
    );
    expect(!refused.ok && refused.error.details.issues.map((i) => i.path)).toEqual(['/wrappingKeySig']);
    const missing: Record<string, Json> = { ...newer };
    delete missing['revokedDevices'];
    const incomplete = validateTolerant(HttpAccountResponse, missing);
    expect(!incomplete.ok && incomplete.error.details.issues[0]?.path).toBe('/revokedDevices');
  });

  it('roleSig: a register body may carry it, an account answer relays it', () => {
    expect(validate(HttpRegisterRequest, { ...registerBody(), roleSig: body.sig }).ok).toBe(true);
    expect(validate(HttpRegisterRequest, { ...registerBody(), roleSig: 'not a signature' }).ok).toBe(false);
    const withRole = { ...answer, roleSig: body.sig };
    expect(validateTolerant(HttpAccountResponse, withRole)).toStrictEqual({ ok: true, value: withRole });
    // A device built before the field drops it (an added property) and reads the rest as ever.
    const older = Type.Omit(HttpAccountResponse, ['roleSig'], { additionalProperties: false });
    expect(validate(older, withRole).ok).toBe(false);
    expect(validateTolerant(older, withRole)).toStrictEqual({ ok: true, value: answer });
  });

  it('roleSig published later: a wrapping-key body may carry it; a server older than the field refuses it', () => {
    const publication = { sig: body.sig, roleSig: body.sig };
    expect(validate(HttpWrappingKeyRequest, publication).ok).toBe(true);
    expect(validate(HttpWrappingKeyRequest, { sig: body.sig }).ok).toBe(true);
    expect(validate(HttpWrappingKeyRequest, { roleSig: body.sig }).ok).toBe(false);
    expect(validate(HttpWrappingKeyRequest, { ...publication, roleSig: 'not a signature' }).ok).toBe(false);
    // A server's request schemas are closed (a body is checked as sent): one built before the field
    // refuses the whole publication.
    const older = Type.Omit(HttpWrappingKeyRequest, ['roleSig'], { additionalProperties: false });
    expect(validate(older, publication).ok).toBe(false);
    expect(validate(older, { sig: body.sig }).ok).toBe(true);
  });

  it('an error body with added properties keeps its code; its details record keeps every key', () => {
    const error = { code: 'RATE_LIMITED', message: 'slow', details: { retryAfterMs: 5, later: true } };
    expect(validateTolerant(HttpErrorBody, { ...error, hint: 'x' })).toStrictEqual({
      ok: true,
      value: error,
    });
  });
});

describe('stripExtraProperties', () => {
  const closed = { additionalProperties: false } as const;

  it('guesses nothing when two union branches fit once opened: the value stays refused', () => {
    const Short = Type.Object({ a: Type.Number() }, closed);
    const Long = Type.Object({ a: Type.Number(), b: Type.Optional(Type.Number()) }, closed);
    const Either = Type.Union([Short, Long]);
    expect(validate(Either, { a: 1, b: 2 }).ok).toBe(true);
    // Taking the first branch that fits would silently drop `b`, a field this build knows.
    const result = validateTolerant(Either, { a: 1, b: 2, c: 3 });
    expect(result.ok).toBe(false);
    // A discriminated union (every object union of the protocol) is stripped along its one branch.
    const Tagged = Type.Union([
      Type.Object({ k: Type.Literal('short'), a: Type.Number() }, closed),
      Type.Object({ k: Type.Literal('long'), a: Type.Number(), b: Type.Number() }, closed),
    ]);
    expect(validateTolerant(Tagged, { k: 'long', a: 1, b: 2, c: 3 })).toStrictEqual({
      ok: true,
      value: { k: 'long', a: 1, b: 2 },
    });
  });

  it('keeps what an open object allows, and keeps a "__proto__" member as data', () => {
    const Open = Type.Object({ a: Type.Number(), inner: Type.Object({ b: Type.Number() }, closed) });
    const value = JSON.parse('{"a":1,"__proto__":{"polluted":true},"inner":{"b":2,"c":3}}') as unknown;
    const stripped = stripExtraProperties(Open, value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(stripped)).toBe(Object.prototype);
    expect(Object.hasOwn(stripped, '__proto__')).toBe(true);
    expect(stripped['polluted']).toBeUndefined();
    expect(stripped['inner']).toStrictEqual({ b: 2 });
    // The input is never modified.
    expect((value as { inner: unknown }).inner).toStrictEqual({ b: 2, c: 3 });
  });

  it('returns the very same value when there is nothing to drop, a copy otherwise', () => {
    const exact = clone(SERVER_EXAMPLES.find((f) => f.t === 'pushed')!);
    expect(stripExtraProperties(PushedFrame, exact)).toBe(exact);
    const newer = withAdded(exact);
    expect(stripExtraProperties(PushedFrame, newer)).not.toBe(newer);
    expect(stripExtraProperties(PushedFrame, newer)).toStrictEqual(exact);
  });
});
