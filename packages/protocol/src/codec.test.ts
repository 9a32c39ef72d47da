import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  errorFrame,
  negotiateVersion,
  parseJson,
  utf8ByteLength,
} from './codec';
import { protocolError } from './errors';
import {
  ALLERGY,
  AUDIT,
  CLIENT_EXAMPLES,
  NOTE,
  PATIENT,
  PROVIDER,
  RECORD_2,
  REV1,
  SERVER_EXAMPLES,
  SIG,
  T0,
  T1,
  b64,
  pushDoc,
  servedDoc,
} from './examples.test-util';
import { MAX_BATCH_BYTES, MAX_BATCH_DOCS, MAX_DOC_BYTES, MAX_FRAME_BYTES } from './limits';
import { CLIENT_FRAMES, SERVER_FRAMES, type ClientFrame, type ServerFrame } from './messages';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Decode = typeof decodeClientFrame | typeof decodeServerFrame;

const clone = (value: unknown): Json => JSON.parse(JSON.stringify(value)) as Json;

/** Every path (JSON Pointer) in a value, with whether it is a leaf and whether its parent is an object. */
function paths(value: Json, path = ''): { path: string; leaf: boolean; inObject: boolean }[] {
  const out: { path: string; leaf: boolean; inObject: boolean }[] = [];
  const visit = (node: Json, at: string, inObject: boolean) => {
    const leaf = node === null || typeof node !== 'object';
    if (at !== '') out.push({ path: at, leaf, inObject });
    if (Array.isArray(node)) node.forEach((child, i) => visit(child, `${at}/${i}`, false));
    else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) visit(child, `${at}/${key}`, true);
    }
  };
  visit(value, path, false);
  return out;
}

function edit(
  value: Json,
  path: string,
  change: (parent: Json[] | { [key: string]: Json }, key: string) => void,
) {
  const keys = path.split('/').slice(1);
  let node: Json = value;
  for (const key of keys.slice(0, -1)) node = (node as Record<string, Json>)[key] as Json;
  change(node as { [key: string]: Json }, keys[keys.length - 1] as string);
}

function wrongType(leaf: Json): Json {
  if (typeof leaf === 'string') return 12345;
  if (leaf === null) return 12345;
  return 'not-the-right-type';
}

function expectIssueAt(decode: Decode, text: string, path: string) {
  const result = decode(text);
  expect(result.ok, `${path} should be rejected: ${text.slice(0, 200)}`).toBe(false);
  if (result.ok) return;
  expect(['BAD_MESSAGE', 'TOO_LARGE']).toContain(result.error.code);
  const issues = (result.error.details?.['issues'] ?? []) as { path: string; reason: string }[];
  const named = issues.some(
    (issue) => issue.path !== '/' && (path === issue.path || path.startsWith(`${issue.path}/`)),
  );
  expect(named, `issues ${JSON.stringify(issues)} should name ${path}`).toBe(true);
}

// Fields the schemas declare optional; deleting one of these keeps the frame valid.
const OPTIONAL = [
  /^ready\/wrappedRootGen$/,
  /^push\/rows\/0\/doc\/sig$/,
  /^(streams|accessChanged)\/streams\/0\/(grantId|expiresAt)$/,
  /^(putEnvelopes|envelopes)\/envelopes\/0\/sig$/,
  /^getEnvelopes\/streams$/,
  /^grant\/grant\/grant\/supersedes$/,
  /^grants\/grants\/0\/(revokedAt|revocation|supersededBy|supersededBy\/grant\/supersedes)$/,
  /^error\/(rid|details|details\/retryAfterMs)$/,
  /^getHead\/(after|limit)$/,
  /^head\/(signed|next)$/,
];

const sides: [string, readonly (ClientFrame | ServerFrame)[], Decode, Record<string, unknown>][] = [
  ['client', CLIENT_EXAMPLES, decodeClientFrame, CLIENT_FRAMES],
  ['server', SERVER_EXAMPLES, decodeServerFrame, SERVER_FRAMES],
];

describe.each(sides)('%s frames', (_side, examples, decode, table) => {
  it('has an example of every frame type', () => {
    expect(new Set(examples.map((frame) => frame.t))).toEqual(new Set(Object.keys(table)));
  });

  it.each(examples.map((frame) => [frame.t, frame] as const))('decodes a valid %s', (_t, frame) => {
    const result = decode(encodeFrame(frame));
    expect(result).toStrictEqual({ ok: true, value: frame });
  });

  it.each(examples.map((frame) => [frame.t, frame] as const))(
    'rejects %s with any field of the wrong type, naming its path',
    (t, frame) => {
      for (const { path, leaf } of paths(clone(frame))) {
        if (!leaf || path.startsWith('/details')) continue;
        const mutated = clone(frame);
        edit(mutated, path, (parent, key) => {
          (parent as Record<string, Json>)[key] = wrongType((parent as Record<string, Json>)[key] ?? null);
        });
        expectIssueAt(decode, JSON.stringify(mutated), path);
      }
      expect(t).toBeTruthy();
    },
  );

  it.each(examples.map((frame) => [frame.t, frame] as const))(
    'rejects %s without any required field, naming its path',
    (t, frame) => {
      for (const { path, inObject } of paths(clone(frame))) {
        if (!inObject) continue;
        const mutated = clone(frame);
        edit(mutated, path, (parent, key) => {
          delete (parent as Record<string, Json>)[key];
        });
        if (OPTIONAL.some((re) => re.test(`${t}${path}`))) {
          expect(decode(JSON.stringify(mutated)).ok, `${t}${path} is optional`).toBe(true);
        } else {
          expectIssueAt(decode, JSON.stringify(mutated), path);
        }
      }
    },
  );

  it('rejects unknown properties', () => {
    for (const frame of examples) expectIssueAt(decode, JSON.stringify({ ...frame, extra: 1 }), '/extra');
  });

  it('names an unknown member of a megabyte-long name by a short pointer, so the refusal stays small', () => {
    const name = 'n'.repeat(1 << 20);
    for (const frame of examples) {
      const result = decode(JSON.stringify({ ...frame, [name]: 1 }));
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      const issues = (result.error.details as { issues?: { path: string }[] } | undefined)?.issues ?? [];
      expect(issues.length).toBeGreaterThan(0);
      for (const { path } of issues) expect(path.length).toBeLessThanOrEqual(200);
      expect(path0(issues)).toMatch(/^\/n+…$/);
      const echoed = encodeFrame(
        errorFrame(protocolError(result.error.code, result.error.message, result.error.details)),
      );
      expect(echoed.length).toBeLessThan(4096);
    }
  });
});

const path0 = (issues: readonly { path: string }[]): string => issues[0]?.path ?? '';

describe('size limits', () => {
  afterEach(() => vi.restoreAllMocks());

  it('refuses an oversize frame as TOO_LARGE without parsing it', () => {
    const parse = vi.spyOn(JSON, 'parse');
    const huge = `{"t":"ping","rid":1,"x":"${'a'.repeat(MAX_FRAME_BYTES)}"}`;
    const result = decodeClientFrame(huge);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('TOO_LARGE');
    // Multi-byte characters count in UTF-8 bytes, not UTF-16 units.
    const wide = decodeServerFrame('é'.repeat(MAX_FRAME_BYTES / 2 + 1));
    expect(!wide.ok && wide.error.code).toBe('TOO_LARGE');
    expect(parse).not.toHaveBeenCalled();
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES and refuses one byte more', () => {
    const frame = encodeFrame({ t: 'ping', rid: 1 });
    const padding = MAX_FRAME_BYTES - frame.length;
    expect(decodeClientFrame(frame + ' '.repeat(padding)).ok).toBe(true);
    const over = decodeClientFrame(frame + ' '.repeat(padding + 1));
    expect(!over.ok && over.error.code).toBe('TOO_LARGE');
  });

  it('counts UTF-8 bytes exactly', () => {
    expect(utf8ByteLength('aé€😀')).toBe(1 + 2 + 3 + 4);
    expect(utf8ByteLength('\ud800x')).toBe(3 + 1);
  });

  it('refuses a push whose ciphertext exceeds MAX_BATCH_BYTES as TOO_LARGE, accepts one at the limit', () => {
    const ids = ['01HZY3K8Q5N9V7W2X4Y6Z8A0B1', '01HZY3K8Q5N9V7W2X4Y6Z8A0B2', '01HZY3K8Q5N9V7W2X4Y6Z8A0B3'];
    const rows = (count: number) =>
      [...ids, '01HZY3K8Q5N9V7W2X4Y6Z8A0B4', '01HZY3K8Q5N9V7W2X4Y6Z8A0B5'].slice(0, count).map((id) => ({
        doc: pushDoc({ id, ct: b64(MAX_DOC_BYTES, 'q') }),
        assumedRev: null,
      }));
    expect(MAX_BATCH_BYTES / MAX_DOC_BYTES).toBe(4);
    expect(decodeClientFrame(encodeFrame({ t: 'push', rid: 1, rows: rows(4) })).ok).toBe(true);
    const over = decodeClientFrame(encodeFrame({ t: 'push', rid: 1, rows: rows(5) }));
    expect(over.ok).toBe(false);
    if (!over.ok) {
      expect(over.error.code).toBe('TOO_LARGE');
      expect(over.error.rid).toBe(1);
    }
  });

  it('refuses a document over MAX_DOC_BYTES and a batch over MAX_BATCH_DOCS as TOO_LARGE', () => {
    const big = decodeClientFrame(
      encodeFrame({
        t: 'push',
        rid: 2,
        rows: [{ doc: pushDoc({ ct: b64(MAX_DOC_BYTES + 3) }), assumedRev: null }],
      }),
    );
    expect(!big.ok && big.error.code).toBe('TOO_LARGE');
    const tooMany = decodeServerFrame(
      encodeFrame({
        t: 'pushed',
        rid: 3,
        results: Array.from({ length: MAX_BATCH_DOCS + 1 }, () => ({
          status: 'ok' as const,
          stream: ALLERGY,
          id: '01HZY3K8Q5N9V7W2X4Y6Z8A0B1',
          rev: REV1,
          seq: 1,
        })),
      }),
    );
    expect(!tooMany.ok && tooMany.error.code).toBe('TOO_LARGE');
  });
});

describe('garbage', () => {
  it.each(['', '{', 'nul', '{"t":"ping","rid":1,}', '\u0000', 'undefined'])('%j is BAD_MESSAGE', (text) => {
    const result = decodeClientFrame(text);
    expect(!result.ok && result.error.code).toBe('BAD_MESSAGE');
  });

  it.each(['null', '[]', '"ping"', '42', 'true', '[{"t":"ping","rid":1}]'])(
    'non-object %s is BAD_MESSAGE',
    (text) => {
      const result = decodeServerFrame(text);
      expect(!result.ok && result.error.code).toBe('BAD_MESSAGE');
    },
  );

  it('rejects non-string input without throwing', () => {
    const notText: unknown = { t: 'ping', rid: 1 };
    const result = decodeClientFrame(notText as string);
    expect(!result.ok && result.error.code).toBe('BAD_MESSAGE');
  });

  it('names an unknown or wrong-side frame type at /t', () => {
    expectIssueAt(decodeClientFrame, '{"t":"nope","rid":1}', '/t');
    expectIssueAt(decodeClientFrame, '{"t":"pong","rid":1,"time":"2025-01-02T03:04:05.678Z"}', '/t');
    expectIssueAt(decodeServerFrame, '{"t":"ping","rid":1}', '/t');
    expectIssueAt(decodeClientFrame, '{"t":"toString","rid":1}', '/t');
    expectIssueAt(decodeClientFrame, '{"rid":1}', '/t');
  });

  it('refuses a __proto__ key rather than merging it', () => {
    expectIssueAt(decodeClientFrame, '{"t":"ping","rid":1,"__proto__":{"admin":true}}', '/__proto__');
  });
});

describe('member names JSON.parse would not refuse', () => {
  const issuesOf = (text: string) => {
    const result = decodeClientFrame(text);
    expect(result.ok, text).toBe(false);
    return result.ok ? undefined : result.error;
  };

  it('refuses a name repeated within one object, wherever it is, naming where', () => {
    const row = '{"doc":DOC,"assumedRev":null}'.replace('DOC', JSON.stringify(pushDoc()));
    const cases: Array<[string, string]> = [
      ['{"t":"ping","rid":1,"t":"ping"}', '/t'],
      [
        `{"t":"push","rid":3,"rows":[${row.replace('"assumedRev":null', '"assumedRev":null,"assumedRev":"1-x"')}]}`,
        '/rows/0/assumedRev',
      ],
      [
        `{"t":"push","rid":3,"rows":[${row},${row.replace('{"stream"', '{"epoch":1,"stream"')}]}`,
        '/rows/1/doc/epoch',
      ],
      // Escapes spell the same name: JSON.parse would keep the second.
      ['{"t":"ping","rid":1,"\\u0074":"ping"}', '/t'],
    ];
    for (const [text, path] of cases) {
      const error = issuesOf(text);
      expect(error?.code, text).toBe('BAD_MESSAGE');
      expect(error?.details, text).toStrictEqual({
        issues: [{ path, reason: 'duplicate member name: each name may appear once in an object' }],
      });
    }
  });

  it('names no rid when rid itself is repeated, and the rid otherwise', () => {
    expect(issuesOf('{"t":"ping","rid":1,"rid":2}')?.rid).toBeUndefined();
    expect(issuesOf('{"t":"ping","rid":1,"t":"ping"}')?.rid).toBe(1);
  });

  it('refuses __proto__ as a member name at any depth, escaped or not', () => {
    for (const [text, path] of [
      ['{"t":"ping","rid":1,"__proto__":{"admin":true}}', '/__proto__'],
      ['{"t":"ping","rid":1,"\\u005f_proto__":{}}', '/__proto__'],
      [
        `{"t":"pull","rid":1,"streams":[{"stream":"${ALLERGY}","since":0,"__proto__":null}]}`,
        '/streams/0/__proto__',
      ],
    ]) {
      const error = issuesOf(text!);
      expect(error?.details, text).toStrictEqual({
        issues: [{ path, reason: 'member name __proto__ is not allowed' }],
      });
    }
  });

  it('accepts the same name in different objects, and names that only look alike', () => {
    const frame = {
      t: 'push',
      rid: 1,
      rows: [
        { doc: pushDoc(), assumedRev: null },
        { doc: pushDoc({ id: RECORD_2 }), assumedRev: null },
      ],
    };
    expect(decodeClientFrame(JSON.stringify(frame)).ok).toBe(true);
    // Colons and quotes inside strings are not members.
    expect(parseJson('{"a":"x:\\"y\\":z","b":{"a":1,"c":[{"a":2},{"a":3}]},"A":0}')).toStrictEqual({
      ok: true,
      value: { a: 'x:"y":z', b: { a: 1, c: [{ a: 2 }, { a: 3 }] }, A: 0 },
    });
  });

  it('parseJson takes any JSON without a repeated or __proto__ name, and finds one added anywhere', () => {
    const noProto = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    fc.assert(
      fc.property(noProto, (value) => {
        const text = JSON.stringify(value, null, 1);
        expect(parseJson(text)).toStrictEqual({ ok: true, value: JSON.parse(text) as unknown });
        // An object's first name written once more, as a new first member: the repeat is found.
        const objects = [...text.matchAll(/\{\n *("(?:[^"\\]|\\.)*"):/g)];
        for (const match of objects.slice(0, 3)) {
          const at = match.index + 2;
          const repeated = `${text.slice(0, at)}${match[1]}: 0,\n${text.slice(at)}`;
          const result = parseJson(repeated);
          expect(!result.ok && result.error.details.issues[0]?.reason).toMatch(/^duplicate member name/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parseJson answers BAD_MESSAGE for text that is not JSON', () => {
    const result = parseJson('{"a":');
    expect(!result.ok && result.error.code).toBe('BAD_MESSAGE');
    expect(parseJson('[{"a":1,"a":1}]')).toStrictEqual({
      ok: false,
      error: {
        code: 'BAD_MESSAGE',
        message: '/0/a: duplicate member name: each name may appear once in an object',
        details: {
          issues: [{ path: '/0/a', reason: 'duplicate member name: each name may appear once in an object' }],
        },
      },
    });
  });
});

describe('rid extraction', () => {
  it('carries the rid of a broken but parseable frame', () => {
    const result = decodeClientFrame('{"t":"pull","rid":7,"streams":"all"}');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.rid).toBe(7);
      expect(errorFrame(result.error, result.error.rid)).toMatchObject({
        t: 'error',
        rid: 7,
        code: 'BAD_MESSAGE',
      });
    }
  });

  it('leaves rid out when it is missing or not a request id', () => {
    for (const text of [
      '{"t":"pull","rid":-1}',
      '{"t":"pull","rid":"7"}',
      '{"t":"pull","rid":1.5}',
      '{"t":"pull"}',
      '[',
    ]) {
      const result = decodeClientFrame(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.rid, text).toBeUndefined();
    }
  });

  it('builds error frames that decode on the device', () => {
    const frame = errorFrame(protocolError('STALE_EPOCH', 'rekey', { epoch: 2 }), 4);
    expect(decodeServerFrame(encodeFrame(frame))).toStrictEqual({ ok: true, value: frame });
    expect(decodeServerFrame(encodeFrame(errorFrame(protocolError('INTERNAL', 'x'.repeat(5000))))).ok).toBe(
      true,
    );
  });
});

describe('semantic rules', () => {
  const client = (frame: unknown) => JSON.stringify(frame);
  const push = (...docs: unknown[]) =>
    client({ t: 'push', rid: 1, rows: docs.map((doc) => ({ doc, assumedRev: null })) });

  it('refuses duplicate streams in stream lists', () => {
    const cursor = { stream: ALLERGY, since: 0 };
    expectIssueAt(
      decodeClientFrame,
      client({ t: 'pull', rid: 1, streams: [cursor, cursor], limit: 1, maxBytes: 1 }),
      '/streams/1/stream',
    );
    expectIssueAt(
      decodeClientFrame,
      client({ t: 'subscribe', rid: 1, streams: [cursor, { ...cursor, since: 3 }] }),
      '/streams/1/stream',
    );
    expectIssueAt(
      decodeClientFrame,
      client({ t: 'unsubscribe', rid: 1, streams: [NOTE, ALLERGY, NOTE] }),
      '/streams/2',
    );
    expectIssueAt(
      decodeClientFrame,
      client({ t: 'getEnvelopes', rid: 1, streams: [NOTE, NOTE] }),
      '/streams/1',
    );
    const envelope = {
      stream: ALLERGY,
      epoch: 1,
      recipient: PROVIDER,
      keyId: b64(16),
      wrapped: b64(80),
      createdBy: PATIENT,
    };
    expectIssueAt(
      decodeClientFrame,
      client({ t: 'putEnvelopes', rid: 1, envelopes: [envelope, { ...envelope, wrapped: b64(80, 'z') }] }),
      '/envelopes/1',
    );
    expect(
      decodeClientFrame(
        client({ t: 'putEnvelopes', rid: 1, envelopes: [envelope, { ...envelope, epoch: 2 }] }),
      ).ok,
    ).toBe(true);
  });

  it('refuses the same document twice in one push', () => {
    expectIssueAt(
      decodeClientFrame,
      push(pushDoc(), pushDoc({ rev: '2-0123456789abcdef01234567' })),
      '/rows/1/doc/id',
    );
  });

  it('requires the audit header exactly on audit documents, and signatures on audit and clinical ones', () => {
    expectIssueAt(decodeClientFrame, push(pushDoc({ stream: AUDIT, sig: SIG })), '/rows/0/doc/audit');
    expectIssueAt(
      decodeClientFrame,
      push(pushDoc({ audit: { authorSeq: 1, prevHash: null, at: T0 } })),
      '/rows/0/doc/audit',
    );
    expectIssueAt(
      decodeClientFrame,
      push(pushDoc({ stream: AUDIT, audit: { authorSeq: 1, prevHash: null, at: T0 } })),
      '/rows/0/doc/sig',
    );
    expectIssueAt(decodeClientFrame, push(pushDoc({ stream: NOTE })), '/rows/0/doc/sig');
    expect(decodeClientFrame(push(pushDoc({ stream: NOTE, sig: SIG }))).ok).toBe(true);
    expect(decodeClientFrame(push(pushDoc())).ok).toBe(true);
  });

  it('refuses ciphertext of impossible base64url length', () => {
    expectIssueAt(decodeClientFrame, push(pushDoc({ ct: 'abcde' })), '/rows/0/doc/ct');
  });

  it('checks grants: unique types, no self-grant, start before expiry, real dates, never audit', () => {
    const frame = CLIENT_EXAMPLES.find((f) => f.t === 'grant');
    if (frame?.t !== 'grant') throw new Error('example missing');
    const withGrant = (over: Record<string, unknown>) =>
      client({ ...frame, grant: { ...frame.grant, grant: { ...frame.grant.grant, ...over } } });
    const read = { type: 'allergy', access: 'read' };
    expectIssueAt(
      decodeClientFrame,
      withGrant({ scope: [read, { ...read, access: 'write' }] }),
      '/grant/grant/scope/1/type',
    );
    expectIssueAt(
      decodeClientFrame,
      withGrant({ scope: [{ type: 'audit', access: 'read' }] }),
      '/grant/grant/scope/0/type',
    );
    expectIssueAt(decodeClientFrame, withGrant({ granteeId: PATIENT }), '/grant/grant/granteeId');
    expectIssueAt(decodeClientFrame, withGrant({ start: T1, expiresAt: T0 }), '/grant/grant/expiresAt');
    expectIssueAt(decodeClientFrame, withGrant({ start: T0, expiresAt: T0 }), '/grant/grant/expiresAt');
    expectIssueAt(decodeClientFrame, withGrant({ start: '2025-02-30T00:00:00.000Z' }), '/grant/grant/start');
    expectIssueAt(decodeClientFrame, withGrant({ scope: [] }), '/grant/grant/scope');
    expectIssueAt(decodeClientFrame, withGrant({ purpose: 'p'.repeat(501) }), '/grant/grant/purpose');
    expectIssueAt(
      decodeClientFrame,
      withGrant({ supersedes: frame.grant.grant.grantId }),
      '/grant/grant/supersedes',
    );
    expectIssueAt(decodeClientFrame, withGrant({ supersedes: 'not-a-ulid' }), '/grant/grant/supersedes');
  });

  it('requires served documents in strictly increasing seq per stream, under a listed checkpoint', () => {
    const pulled = (docs: unknown[], streams: unknown[]) =>
      JSON.stringify({ t: 'pulled', rid: 1, docs, streams, denied: [] });
    const cp = (checkpoint: number) => [{ stream: ALLERGY, checkpoint, done: true }];
    expect(decodeServerFrame(pulled([servedDoc({ seq: 1 }), servedDoc({ seq: 2 })], cp(2))).ok).toBe(true);
    expectIssueAt(
      decodeServerFrame,
      pulled([servedDoc({ seq: 2 }), servedDoc({ seq: 2 })], cp(2)),
      '/docs/1/seq',
    );
    expectIssueAt(
      decodeServerFrame,
      pulled([servedDoc({ seq: 3 }), servedDoc({ seq: 2 })], cp(3)),
      '/docs/1/seq',
    );
    expectIssueAt(decodeServerFrame, pulled([servedDoc({ seq: 3 })], cp(2)), '/docs/0/seq');
    expectIssueAt(decodeServerFrame, pulled([servedDoc({ seq: 3 })], []), '/docs/0/stream');
    expectIssueAt(decodeServerFrame, pulled([], [...cp(1), ...cp(2)]), '/streams/1/stream');
    // Interleaved streams are fine as long as each stream is ordered.
    const other = servedDoc({ stream: NOTE, sig: SIG, seq: 1 });
    expect(
      decodeServerFrame(
        pulled(
          [servedDoc({ seq: 5 }), other, servedDoc({ seq: 6 })],
          [...cp(6), { stream: NOTE, checkpoint: 1, done: true }],
        ),
      ).ok,
    ).toBe(true);
    const changes = {
      t: 'changes',
      docs: [servedDoc({ seq: 4 }), servedDoc({ seq: 4 })],
      streams: [{ stream: ALLERGY, checkpoint: 4 }],
    };
    expectIssueAt(decodeServerFrame, JSON.stringify(changes), '/docs/1/seq');
  });
});

describe('passphrase-wrap generation (version 2)', () => {
  const ready = { t: 'ready', accountId: PATIENT, deviceId: PROVIDER, version: 2, sessionExpiresAt: T1 };

  it('decodes ready without the generation, as a version-1 server sends it', () => {
    expect(decodeServerFrame(JSON.stringify({ ...ready, version: 1 }))).toStrictEqual({
      ok: true,
      value: { ...ready, version: 1 },
    });
  });

  it.each([-1, 1.5, 2 ** 31, '1', null, true, [1], { gen: 1 }])(
    'refuses a generation of %j as BAD_MESSAGE naming the field',
    (gen) => {
      expectIssueAt(decodeServerFrame, JSON.stringify({ ...ready, wrappedRootGen: gen }), '/wrappedRootGen');
      expectIssueAt(decodeServerFrame, JSON.stringify({ t: 'wrappedRootChanged', gen }), '/gen');
      expect(decodeServerFrame(JSON.stringify({ t: 'wrappedRootChanged', gen })).ok).toBe(false);
    },
  );

  it('accepts the whole generation range and nothing else in the notice', () => {
    for (const gen of [0, 2 ** 31 - 1]) {
      expect(decodeServerFrame(JSON.stringify({ t: 'wrappedRootChanged', gen })).ok).toBe(true);
      expect(decodeServerFrame(JSON.stringify({ ...ready, wrappedRootGen: gen })).ok).toBe(true);
    }
    expectIssueAt(decodeServerFrame, '{"t":"wrappedRootChanged"}', '/gen');
    expectIssueAt(decodeServerFrame, '{"t":"wrappedRootChanged","gen":1,"wrappedRoot":{}}', '/wrappedRoot');
    // Client-bound only: a device never sends it.
    expectIssueAt(decodeClientFrame, '{"t":"wrappedRootChanged","gen":1}', '/t');
  });
});

describe('negotiateVersion', () => {
  it('picks the highest common version', () => {
    expect(negotiateVersion([1, 2], [1])).toStrictEqual({ ok: true, value: 1 });
    expect(negotiateVersion([1], [1, 2])).toStrictEqual({ ok: true, value: 1 });
    expect(negotiateVersion([3, 1, 2], [2, 3, 4])).toStrictEqual({ ok: true, value: 3 });
    expect(negotiateVersion([1])).toStrictEqual({ ok: true, value: 1 });
    // This build speaks version 1 only: a peer offering it and a later one gets 1, one without it nothing.
    expect(negotiateVersion([1, 2])).toStrictEqual({ ok: true, value: 1 });
    expect(negotiateVersion([2]).ok).toBe(false);
  });

  it('fails with UNSUPPORTED_VERSION either way round', () => {
    for (const [client, server] of [
      [[2, 3], [1]],
      [[1], [2, 3]],
      [[], [1]],
    ] as const) {
      const result = negotiateVersion(client, server);
      expect(!result.ok && result.error.code).toBe('UNSUPPORTED_VERSION');
    }
  });
});
