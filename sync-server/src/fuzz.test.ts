// Fuzz: thousands of random and malformed WebSocket frames and HTTP bodies against a real server.
// Every bad frame gets a typed `error` frame and every bad request a 4xx `{ code, message }`; the server
// stays up, the same socket keeps answering, and no table of the store gains or loses a row.
// fast-check runs with fixed seeds and bounded runs, so a failure reproduces exactly.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ERROR_CODES,
  HTTP_ROUTES,
  MAX_BATCH_DOCS,
  MAX_FRAME_BYTES,
  MAX_HTTP_BODY_BYTES,
  MAX_STREAMS_PER_REQUEST,
  decodeClientFrame,
  isErrorCode,
  wrappedRootSignaturePayload,
  wrappingKeySignaturePayload,
  deviceRevocationPayload,
  directoryProfilePayload,
  availabilitySignaturePayload,
  type Availability,
  type ClientFrame,
  type ErrorFrame,
  type ServerFrame,
} from '@hale/protocol';
import {
  TEST_KDF,
  base64urlEncode,
  deriveInitialStreamKey,
  generateDeviceKeys,
  sealBytes,
  wrapRootWithPassphrase,
} from '@hale/crypto';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  http,
  makeDeviceCert,
  makeDeviceName,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRegistration,
  makeRevocation,
  openWs,
  registerAccount,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

type Json = fc.JsonValue;
type JsonObject = { [key: string]: Json };
type Path = Array<string | number>;

const SEED = 20_250_101;
const MiB = 1024 * 1024;

// ---- structural mutations that always break a closed schema ----

const kindOf = (v: Json): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

const nodes = (value: Json, at: Path = []): Array<{ path: Path; value: Json }> => {
  if (value === null || typeof value !== 'object') return [{ path: at, value }];
  const children = Array.isArray(value)
    ? value.flatMap((v, i) => nodes(v, [...at, i]))
    : Object.entries(value).flatMap(([k, v]) => (v === undefined ? [] : nodes(v, [...at, k])));
  return [{ path: at, value }, ...children];
};

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

const at = (root: Json, path: Path): Json =>
  path.reduce<Json>((node, key) => (node as JsonObject)[key as string] ?? null, root);

const setAt = (root: Json, path: Path, replacement: Json | undefined): Json => {
  if (path.length === 0) return replacement ?? null;
  const copy = clone(root);
  const parent = at(copy, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  if (replacement === undefined) delete parent[key];
  else parent[key] = replacement;
  return copy;
};

/** Optional properties: deleting them can leave a frame valid, so the fuzzer never does. */
const OPTIONAL = new Set([
  'sig',
  'audit',
  'contact',
  'streams',
  'loginName',
  'q',
  'limit',
  'wrappingKeySig',
  'wrappedRootSig',
  'supersedes',
]);

const valueOfKind: Record<string, fc.Arbitrary<Json>> = {
  string: fc.string({ maxLength: 24 }),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  array: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
};

const OUT_OF_RANGE: Record<string, Json[]> = {
  rid: [-1, 2 ** 53, 1.5],
  since: [-1, 0.5],
  limit: [0, 1001],
  maxBytes: [0, 4 * MiB + 1],
  epoch: [-1, 2.5],
  size: [-1],
  chunkSize: [1],
  chunkCount: [0],
};

/**
 * A mutation of `base` that no closed schema accepts: retype, extra property, missing property, out of range.
 * `optional`: more property names of this body not to delete (OPTIONAL holds those of every body).
 */
const mutated = (base: Json, optional: readonly string[] = []): fc.Arbitrary<Json> => {
  const all = nodes(base).filter((n) => n.path.length > 0);
  const retypable = all.filter((n) => n.value !== null);
  const objects = nodes(base).filter((n) => kindOf(n.value) === 'object');
  const required = all.filter(
    (n) =>
      typeof n.path[n.path.length - 1] === 'string' &&
      !OPTIONAL.has(n.path[n.path.length - 1] as string) &&
      !optional.includes(n.path[n.path.length - 1] as string),
  );
  const ranged = all.filter((n) => {
    const key = n.path[n.path.length - 1];
    return typeof key === 'string' && key in OUT_OF_RANGE && typeof n.value === 'number';
  });
  const arbs: Array<fc.Arbitrary<Json>> = [
    fc.constantFrom(...retypable).chain((n) => {
      const kinds = Object.keys(valueOfKind).filter((k) => k !== kindOf(n.value));
      return fc.constantFrom(...kinds).chain((k) => valueOfKind[k]!.map((v) => setAt(base, n.path, v)));
    }),
    fc
      .tuple(
        fc.constantFrom(...objects),
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([n, key, v]) => {
        const obj = n.value as JsonObject;
        const extra = key in obj ? `${key}_x` : key;
        return setAt(base, [...n.path, extra], v);
      }),
  ];
  if (required.length > 0) arbs.push(fc.constantFrom(...required).map((n) => setAt(base, n.path, undefined)));
  if (ranged.length > 0) {
    arbs.push(
      fc
        .constantFrom(...ranged)
        .chain((n) =>
          fc
            .constantFrom(...OUT_OF_RANGE[n.path[n.path.length - 1] as string]!)
            .map((v) => setAt(base, n.path, v)),
        ),
    );
  }
  return fc.oneof(...arbs);
};

const deepNest = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

/** The rid a well-formed error keeps: a top-level integer rid of a JSON object. */
const ridOf = (text: string): number | undefined => {
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const rid = (v as { rid?: unknown }).rid;
    return typeof rid === 'number' && Number.isSafeInteger(rid) && rid >= 0 ? rid : undefined;
  } catch {
    return undefined;
  }
};

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

describe('fuzz', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let ws: WsClient;
  let counts: Record<string, number>;
  let frames = 0;
  let requests = 0;
  const BASES: ClientFrame[] = [];

  beforeAll(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    ws = await connect(t, patient.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const doc = await makeDoc(patient, patient.device, 'allergy', { substance: 'penicillin' });
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    const revocation = await makeRevocation(patient, grant.grant.grantId);
    // A change of that grant (`supersedes`): its own fields are mutated too.
    const change = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }], {
      now: t.clock.now,
      supersedes: grant.grant.grantId,
    });
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    BASES.push(
      { t: 'pull', rid: 11, streams: [{ stream, since: 0 }], limit: 10, maxBytes: 1000 },
      { t: 'push', rid: 12, rows: [{ doc, assumedRev: null }] },
      { t: 'subscribe', rid: 13, streams: [{ stream, since: 0 }] },
      { t: 'unsubscribe', rid: 14, streams: [stream] },
      { t: 'listStreams', rid: 15 },
      { t: 'grant', rid: 16, grant },
      { t: 'revoke', rid: 17, revocation },
      { t: 'putEnvelopes', rid: 18, envelopes: [envelope] },
      { t: 'getEnvelopes', rid: 19, streams: [stream] },
      { t: 'ping', rid: 20 },
      { t: 'grant', rid: 21, grant: change },
    );
    for (const b of BASES) expect(decodeClientFrame(JSON.stringify(b)).ok).toBe(true);
    counts = rowCounts(t.store);
  });

  afterAll(async () => {
    await ws.close();
    await t.stop();
  });

  const expectTypedError = (reply: ServerFrame, rid: number | undefined | 'any'): ErrorFrame => {
    if (reply.t !== 'error')
      throw new Error(`expected an error frame, got ${JSON.stringify(reply).slice(0, 300)}`);
    expect(isErrorCode(reply.code)).toBe(true);
    expect(typeof reply.message).toBe('string');
    if (rid !== 'any') expect(reply.rid).toBe(rid);
    return reply;
  };

  /** Sends one bad frame on the authenticated socket and returns the server's answer. */
  const bad = async (data: string | Buffer, rid: number | undefined | 'any' = 'any'): Promise<ErrorFrame> => {
    frames++;
    const reply = withTimeout(ws.nextFrame(), 5000, 'reply to a bad frame');
    if (typeof data === 'string') ws.ws.send(data);
    else ws.ws.send(data, { binary: true });
    return expectTypedError(await reply, rid);
  };

  const stillAnswers = async (client: WsClient = ws) => {
    const rid = client.rid() + 1_000_000;
    const pong = await withTimeout(client.request({ t: 'ping', rid }), 5000, 'ping');
    expect(pong).toMatchObject({ t: 'pong', rid });
  };

  describe('WebSocket frames', () => {
    it('random text (unicode, control characters, lone surrogates) → BAD_MESSAGE', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })),
          async (text) => {
            const reply = await bad(text);
            expect(['BAD_MESSAGE', 'TOO_LARGE']).toContain(reply.code);
          },
        ),
        { seed: SEED, numRuns: 400 },
      );
      await stillAnswers();
    });

    it('random JSON and objects with a real frame type but random fields → BAD_MESSAGE keeping a readable rid', async () => {
      const types = BASES.map((b) => b.t);
      const randomFrame = fc.oneof(
        fc.jsonValue(),
        fc
          .tuple(
            fc.constantFrom(...types),
            fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })),
          )
          .map(([t, rest]) => ({ ...rest, t })),
        fc
          .tuple(
            fc.constantFrom(...types),
            fc.nat(),
            fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }),
          )
          .map(([t, rid, rest]) => ({ ...rest, t, rid, zz_unknown: true })),
      );
      await fc.assert(
        fc.asyncProperty(randomFrame, async (value) => {
          const text = JSON.stringify(value);
          fc.pre(!decodeClientFrame(text).ok);
          const reply = await bad(text, ridOf(text));
          expect(reply.code).toBe('BAD_MESSAGE');
        }),
        { seed: SEED + 1, numRuns: 700 },
      );
      await stillAnswers();
    });

    it('valid frames with mutated fields (wrong types, extra, missing, out of range) → BAD_MESSAGE, nothing changes', async () => {
      const arb = fc.constantFrom(...BASES).chain((b) => mutated(b as unknown as Json));
      await fc.assert(
        fc.asyncProperty(arb, async (value) => {
          const text = JSON.stringify(value);
          const reply = await bad(text, ridOf(text));
          expect(['BAD_MESSAGE', 'TOO_LARGE']).toContain(reply.code);
        }),
        { seed: SEED + 2, numRuns: 1400 },
      );
      await stillAnswers();
      expect(rowCounts(t.store)).toEqual(counts);
    });

    it('huge arrays → TOO_LARGE', async () => {
      const stream = streamOf(patient.accountId, 'allergy');
      const push = BASES[1] as Extract<ClientFrame, { t: 'push' }>;
      const huge = fc.oneof(
        fc.integer({ min: MAX_STREAMS_PER_REQUEST + 1, max: MAX_STREAMS_PER_REQUEST + 500 }).map((n) => ({
          t: 'pull',
          rid: 31,
          streams: Array.from({ length: n }, (_, i) => ({ stream, since: i })),
          limit: 10,
          maxBytes: 1000,
        })),
        fc.integer({ min: MAX_BATCH_DOCS + 1, max: MAX_BATCH_DOCS + 50 }).map((n) => ({
          t: 'push',
          rid: 32,
          rows: Array.from({ length: n }, () => ({
            doc: { ...push.rows[0]!.doc, id: newId() },
            assumedRev: null,
          })),
        })),
        fc.integer({ min: MAX_STREAMS_PER_REQUEST + 1, max: 20_000 }).map((n) => ({
          t: 'unsubscribe',
          rid: 33,
          streams: Array.from({ length: n }, () => stream),
        })),
      );
      await fc.assert(
        fc.asyncProperty(huge, async (frame) => {
          const text = JSON.stringify(frame);
          const reply = await bad(text, frame.rid);
          expect(['TOO_LARGE', 'BAD_MESSAGE']).toContain(reply.code);
        }),
        { seed: SEED + 3, numRuns: 40 },
      );
      await stillAnswers();
    });

    it('deep nesting → BAD_MESSAGE (no stack overflow)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 100, max: 200_000 }),
          fc.constantFrom(['[', ']'], ['{"a":', '}']),
          fc.boolean(),
          async (depth, [open, close], inField) => {
            const nested =
              open === '[' ? deepNest(depth, open, close) : `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;
            const text = inField ? `{"t":"ping","rid":41,"x":${nested}}` : nested;
            const reply = await bad(text, inField ? 41 : undefined);
            expect(reply.code).toBe('BAD_MESSAGE');
          },
        ),
        { seed: SEED + 4, numRuns: 40 },
      );
      await stillAnswers();
    });

    it('frames with more structure than any frame (a million members, millions of arrays) → BAD_MESSAGE unparsed, naming the rid', async () => {
      const members = Array.from({ length: 900_000 }, (_, i) => `"${i.toString(36)}":1`).join(',');
      for (const [text, reason] of [
        [`{"rid":61,"t":"ping","x":{${members},"0":2}}`, /more than 262144 values/],
        [
          `{"t":"push","rid":62,"rows":[${Array<string>(2_000_000).fill('[]').join(',')}]}`,
          /more than 262144 values/,
        ],
      ] as const) {
        const reply = await bad(text, Number(/"rid":(\d+)/.exec(text)![1]));
        expect(reply.code).toBe('BAD_MESSAGE');
        expect(reply.message).toMatch(reason);
      }
      await stillAnswers();
    });

    it('oversize frames → TOO_LARGE before parsing, naming the rid the device waits on; the socket stays usable', async () => {
      for (const extra of [1, 1024, 512 * 1024]) {
        const pad = 'x'.repeat(MAX_FRAME_BYTES + extra);
        const reply = await bad(`{"t":"ping","rid":51,"pad":"${pad}"}`, 51);
        expect(reply.code).toBe('TOO_LARGE');
        // An older device wrote its rid last.
        const last = await bad(`{"t":"ping","pad":"${pad}","rid":52}`, 52);
        expect(last.code).toBe('TOO_LARGE');
      }
      const none = await bad(`{"t":"ping","pad":"${'x'.repeat(MAX_FRAME_BYTES)}"}`, undefined);
      expect(none.code).toBe('TOO_LARGE');
      await stillAnswers();
    });

    it('binary frames → BAD_MESSAGE', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
          const reply = await bad(Buffer.from(bytes), undefined);
          expect(reply.code).toBe('BAD_MESSAGE');
        }),
        { seed: SEED + 5, numRuns: 300 },
      );
      // Even a perfectly good frame is refused when sent as binary.
      const binaryPing = await bad(Buffer.from(JSON.stringify({ t: 'ping', rid: 1 })), undefined);
      expect(binaryPing.code).toBe('BAD_MESSAGE');
      await stillAnswers();
    });

    it('frames before auth: requests → UNAUTHENTICATED and close; garbage → BAD_MESSAGE and the socket still authenticates', async () => {
      // A valid request before hello (or after hello instead of auth) is refused and the socket closed.
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...BASES), fc.boolean(), async (frame, afterHello) => {
          frames++;
          const c = await openWs(t);
          if (afterHello) {
            const challenge = await c.request({
              t: 'hello',
              versions: [1],
              deviceId: patient.device.deviceId,
            });
            expect(challenge.t).toBe('challenge');
          }
          const reply = await withTimeout(c.request(frame), 5000, 'pre-auth reply');
          expectTypedError(reply, 'rid' in frame ? frame.rid : undefined);
          expect(reply).toMatchObject({ code: 'UNAUTHENTICATED' });
          expect((await c.closed).code).toBe(4001);
        }),
        { seed: SEED + 6, numRuns: 120 },
      );

      // Garbage before hello does not cost the connection; the same socket then authenticates.
      const c = await openWs(t);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ maxLength: 100 }),
            fc.jsonValue().map((v) => JSON.stringify(v)),
          ),
          async (text) => {
            fc.pre(!decodeClientFrame(text).ok);
            frames++;
            const reply = withTimeout(c.nextFrame(), 5000, 'pre-auth garbage reply');
            c.ws.send(text);
            expect(expectTypedError(await reply, ridOf(text)).code).toBe('BAD_MESSAGE');
          },
        ),
        { seed: SEED + 7, numRuns: 200 },
      );
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      const challenge = await c.request({ t: 'hello', versions: [1], deviceId: patient.device.deviceId });
      expect(challenge.t).toBe('challenge');
      await c.close();

      // A wrong signature, an unknown device or no common version ends the attempt with a typed error.
      const wrongSig = await openWs(t);
      await wrongSig.request({ t: 'hello', versions: [1], deviceId: patient.device.deviceId });
      expect(await wrongSig.request({ t: 'auth', sig: 'A'.repeat(86) })).toMatchObject({
        t: 'error',
        code: 'BAD_SIGNATURE',
      });
      expect((await wrongSig.closed).code).toBe(4001);
      const unknown = await openWs(t);
      const unknownReply = await unknown.request({
        t: 'hello',
        versions: [1],
        deviceId: generateDeviceKeys().deviceId,
      });
      expect(unknownReply).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
      const version = await openWs(t);
      expect(
        await version.request({ t: 'hello', versions: [98, 99], deviceId: patient.device.deviceId }),
      ).toMatchObject({
        t: 'error',
        code: 'UNSUPPORTED_VERSION',
      });
      frames += 3;
    });

    it('transport violations close only that socket: invalid UTF-8 (1007), beyond the transport cap (1009)', async () => {
      const utf8 = await openWs(t);
      utf8.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect((await utf8.closed).code).toBe(1007);
      const huge = await openWs(t);
      huge.ws.send('x'.repeat(2 * MAX_FRAME_BYTES + 1));
      expect((await huge.closed).code).toBe(1009);
      frames += 2;
      await stillAnswers();
    });

    it(`sent at least 3000 bad frames; the server is up, the socket answers and the store is unchanged`, async () => {
      expect(frames).toBeGreaterThanOrEqual(3000);
      expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);
      await stillAnswers();
      expect(rowCounts(t.store)).toEqual(counts);
    });
  });

  describe('HTTP bodies', () => {
    interface Route {
      method: 'POST' | 'PUT';
      url: string;
      base: Json;
      token?: string;
      /** Properties of `base` that route's schema lets a client leave out (see `mutated`). */
      optional?: readonly string[];
    }
    const routes: Route[] = [];
    let chunkUrl = '';
    let token = '';

    beforeAll(async () => {
      token = await sessionToken(t, patient.device);
      const providerToken = await sessionToken(t, provider.device);
      const second = await addDevice(t, patient);
      const registration = await makeRegistration('patient');
      const revocation = {
        v: 1 as const,
        accountId: patient.accountId,
        deviceId: second.deviceId,
        revokedAt: new Date(t.clock.now).toISOString(),
      };
      const challenge = await http(t.url, 'POST', '/v1/auth/challenge', {
        deviceId: patient.device.deviceId,
      });
      const wrappedRoot = (await wrapRootWithPassphrase(
        patient.root,
        'another passphrase',
        TEST_KDF,
      )) as never;
      const profile = {
        accountId: provider.accountId,
        displayName: 'Dr. Who',
        specialty: 'GP',
        clinic: 'Tardis',
        identifier: 'NPI-1',
      };
      const availability: Availability = {
        v: 1,
        accountId: provider.accountId,
        version: 1,
        issuedAt: new Date(t.clock.now).toISOString(),
        timeZone: 'Europe/Berlin',
        slotMinutes: 30,
        weekly: [{ day: 1, from: '09:00', to: '12:00' }],
        exceptions: [{ date: '2026-03-30', hours: [] }],
        from: '2026-03-01',
        until: '2026-04-30',
        busy: [],
        location: 'Riverside',
      };
      const docStream = streamOf(patient.accountId, 'document');
      const blobId = newId();
      const sealed = sealBytes(
        deriveInitialStreamKey(patient.root, docStream),
        { blobId, chunkIndex: 0, epoch: 0 },
        new Uint8Array(1000),
      );
      const manifest = {
        blobId,
        stream: docStream,
        size: 1000,
        chunkSize: 65536,
        chunkCount: 1,
        digests: [digestOf(sealed)],
        epoch: 0,
      };
      expect((await createBlob(t, token, manifest)).status).toBe(200);
      chunkUrl = `/v1/blobs/${blobId}/chunks`;
      routes.push(
        { method: 'POST', url: '/v1/accounts', base: registration.body as unknown as Json },
        {
          method: 'POST',
          url: '/v1/devices',
          base: { device: await makeDeviceCert(patient, generateDeviceKeys()) } as unknown as Json,
        },
        {
          method: 'POST',
          url: '/v1/devices/revoke',
          base: {
            revocation,
            sig: await sign(patient.keys.identity.secretKey, deviceRevocationPayload(revocation)),
          },
        },
        {
          method: 'POST',
          url: '/v1/devices/name',
          base: await makeDeviceName(patient, second.deviceId, 'Kitchen tablet', 1),
        },
        { method: 'POST', url: '/v1/auth/challenge', base: { deviceId: patient.device.deviceId } },
        {
          method: 'POST',
          url: '/v1/auth/session',
          base: {
            challengeId: (challenge.body as { challengeId: string }).challengeId,
            deviceId: patient.device.deviceId,
            sig: 'A'.repeat(86),
          },
        },
        { method: 'POST', url: '/v1/join', base: { loginName: patient.loginName } },
        {
          method: 'POST',
          url: '/v1/accounts/lookup',
          token,
          base: { accountIds: [patient.accountId, provider.accountId] },
        },
        {
          method: 'PUT',
          url: '/v1/accounts/me/wrapped-root',
          token,
          base: {
            wrappedRoot,
            gen: 1,
            sig: await sign(
              patient.keys.identity.secretKey,
              wrappedRootSignaturePayload({ accountId: patient.accountId, wrappedRoot, gen: 1 }),
            ),
          },
        },
        // Every mutation is refused (FORBIDDEN for another well-formed id): the account stays (row counts).
        { method: 'POST', url: '/v1/accounts/me/delete', token, base: { accountId: patient.accountId } },
        {
          method: 'PUT',
          url: '/v1/accounts/me/wrapping-key',
          token,
          base: {
            sig: await sign(
              patient.keys.identity.secretKey,
              wrappingKeySignaturePayload({
                accountId: patient.accountId,
                identityPublicKey: base64urlEncode(patient.keys.identity.publicKey),
                wrappingPublicKey: base64urlEncode(patient.keys.wrapping.publicKey),
              }),
            ),
          },
        },
        {
          method: 'PUT',
          url: '/v1/directory/me',
          token: providerToken,
          base: {
            profile,
            sig: await sign(provider.keys.identity.secretKey, directoryProfilePayload(profile)),
          },
        },
        {
          method: 'PUT',
          url: '/v1/directory/me/availability',
          token: providerToken,
          base: {
            availability,
            sig: await sign(provider.keys.identity.secretKey, availabilitySignaturePayload(availability)),
          },
          optional: ['location'],
        },
        // `epoch` is optional: clients before BLOB_EPOCH_VERSION send none.
        {
          method: 'POST',
          url: '/v1/blobs',
          token,
          base: { ...manifest, blobId: newId() },
          optional: ['epoch'],
        },
      );
      counts = rowCounts(t.store);
    });

    const send = async (
      method: string,
      url: string,
      body: string | Uint8Array | undefined,
      contentType: string | undefined,
      bearer: string | undefined,
    ) => {
      requests++;
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
      const res = await fetch(t.url + url, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`${method} ${url}: ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
      }
      expect(res.status, `${method} ${url} → ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const { code, message } = parsed as { code: unknown; message: unknown };
      expect(typeof code === 'string' && isErrorCode(code)).toBe(true);
      expect(typeof message).toBe('string');
      expect(res.status).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES].http);
      return { status: res.status, code: code as string };
    };

    it('JSON routes: random JSON, mutated bodies, truncated JSON, wrong content types, garbage → 4xx {code, message}', async () => {
      const JSON_TYPE = 'application/json';
      const body = fc.constantFrom(...routes).chain((route) =>
        fc.record({
          route: fc.constant(route),
          bearer: fc.oneof(
            { weight: 4, arbitrary: fc.constant(route.token ?? token) },
            fc.constant(undefined),
            fc.constant('not-a-token-at-all-xyz'),
          ),
          payload: fc.oneof(
            fc.jsonValue().map((v) => ({
              kind: 'random',
              text: JSON.stringify(v),
              type: JSON_TYPE,
            })),
            {
              weight: 4,
              arbitrary: mutated(route.base, route.optional).map((v) => ({
                kind: 'invalid',
                text: JSON.stringify(v),
                type: JSON_TYPE,
              })),
            },
            fc.nat().map((cut) => {
              const full = JSON.stringify(route.base);
              return {
                kind: 'invalid',
                text: full.slice(0, cut % full.length),
                type: JSON_TYPE,
              };
            }),
            fc
              .constantFrom(
                'text/plain',
                'application/x-www-form-urlencoded',
                'multipart/form-data; boundary=x',
                'application/xml',
                'application/octet-stream',
              )
              .map((type) => ({
                kind: 'invalid',
                text: JSON.stringify(route.base),
                type,
              })),
            fc
              .uint8Array({ minLength: 1, maxLength: 300 })
              .map((bytes) => ({ kind: 'invalid', text: bytes, type: JSON_TYPE })),
          ),
        }),
      );
      await fc.assert(
        fc.asyncProperty(body, async ({ route, bearer, payload }) => {
          const res = await send(route.method, route.url, payload.text, payload.type, bearer);
          // Malformed bodies are refused by validation, before any handler (or the bearer check) runs:
          // a wrong type is never coerced into a valid value.
          if (payload.kind === 'invalid') expect(['BAD_MESSAGE', 'TOO_LARGE']).toContain(res.code);
        }),
        { seed: SEED + 10, numRuns: 1100 },
      );
      expect(rowCounts(t.store)).toEqual(counts);
    });

    it('empty and oversize bodies on every JSON route → 400 / 413', async () => {
      for (const route of routes) {
        const empty = await send(
          route.method,
          route.url,
          undefined,
          'application/json',
          route.token ?? token,
        );
        expect(empty.code).toBe('BAD_MESSAGE');
        const none = await send(route.method, route.url, '', 'application/json', route.token ?? token);
        expect(none.code).toBe('BAD_MESSAGE');
        const big = `{"pad":"${'y'.repeat(MAX_HTTP_BODY_BYTES)}"}`;
        const large = await send(route.method, route.url, big, 'application/json', route.token ?? token);
        expect(large).toEqual({ status: 413, code: 'TOO_LARGE' });
      }
      expect(rowCounts(t.store)).toEqual(counts);
    });

    it('chunk route: random bytes, bad indexes, wrong content types, oversize → 4xx, nothing stored', async () => {
      const arb = fc.record({
        index: fc.oneof(
          { weight: 3, arbitrary: fc.constant('0') },
          fc.constantFrom('1', '99999999', '-1', 'abc', '1.5'),
        ),
        type: fc.oneof(
          { weight: 3, arbitrary: fc.constant('application/octet-stream') },
          fc.constantFrom('application/json', 'text/plain', 'image/png'),
        ),
        bytes: fc.uint8Array({ maxLength: 2048 }),
        bearer: fc.oneof({ weight: 4, arbitrary: fc.constant(token) }, fc.constant(undefined)),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ index, type, bytes, bearer }) => {
          await send('PUT', `${chunkUrl}/${index}`, bytes, type, bearer);
        }),
        { seed: SEED + 11, numRuns: 300 },
      );
      const oversize = await send(
        'PUT',
        `${chunkUrl}/0`,
        new Uint8Array(MAX_HTTP_BODY_BYTES + 1),
        'application/octet-stream',
        token,
      );
      expect(oversize).toEqual({ status: 413, code: 'TOO_LARGE' });
      expect(rowCounts(t.store)).toEqual(counts);
    });

    it('sent at least 1000 bad requests to every POST/PUT route; the server is up and the store is unchanged', async () => {
      expect(requests).toBeGreaterThanOrEqual(1000);
      const fuzzed = new Set([
        ...routes.map((r) => `${r.method} ${r.url}`),
        `PUT ${HTTP_ROUTES.putChunk.url}`,
      ]);
      const writeRoutes = Object.values(HTTP_ROUTES)
        .filter((r) => r.method === 'POST' || r.method === 'PUT')
        .map((r) => `${r.method} ${r.url}`);
      expect(writeRoutes.filter((r) => !fuzzed.has(r))).toEqual([]);
      expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);
      await stillAnswers();
      expect(rowCounts(t.store)).toEqual(counts);
      // A rename changes a row, not the count: no device took a name.
      const named = (await t.store.devices.listForAccount(patient.accountId)).filter((d) => d.nameSeq);
      expect(named).toEqual([]);
    });
  });
});
