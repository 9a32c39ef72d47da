// The authorization matrix: every actor × every operation against a real server, over real sockets and
// HTTP. Allowed cells must work and return the right data; refused cells must answer the typed code and
// leave the store untouched (row counts of every table, the exact SQLite row for audit entries).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  auditSignaturePayload,
  isErrorCode,
  type ChangesFrame,
  type ClientFrame,
  type EnvelopesFrame,
  type ErrorFrame,
  type KeyEnvelope,
  type PulledFrame,
  type PushDoc,
  type PushedFrame,
  type ServerFrame,
  type StreamsFrame,
} from '@hale/protocol';
import {
  base64urlDecode,
  deriveInitialStreamKey,
  hexEncode,
  openBytes,
  sealBytes,
  sha256,
} from '@hale/crypto';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  docRow,
  frameWithin,
  getChunk,
  http,
  makeAuditDoc,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  openWs,
  putChunk,
  registerAccount,
  revokeDevice,
  rowCounts,
  serverAccessEntries,
  sessionToken,
  sign,
  startServer,
  streamOf,
  tryConnect,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';

const ACTORS = [
  'own device',
  'other patient',
  'provider, read grant',
  'provider, write grant',
  'provider, expired grant',
  'provider, revoked grant',
  'provider, grant for another type',
  'revoked device',
  'unauthenticated',
  'provider, forged grant signature',
] as const;
type ActorName = (typeof ACTORS)[number];

const OPERATIONS = [
  'pull',
  'push',
  'live',
  'envelope fetch',
  'blob upload',
  'blob download',
  'audit update',
  'audit delete',
] as const;
type OperationName = (typeof OPERATIONS)[number];

type Outcome = 'ok' | keyof typeof ERROR_CODES;

const all = (o: Outcome, audit: Outcome = 'APPEND_ONLY'): Record<OperationName, Outcome> => ({
  pull: o,
  push: o,
  live: o,
  'envelope fetch': o,
  'blob upload': o,
  'blob download': o,
  'audit update': audit,
  'audit delete': audit,
});

/**
 * The expected outcome of every cell. Audit entries are append-only for everyone, the patient's own
 * device included. A refused envelope fetch has no error frame (the server only ever returns envelopes
 * the caller may read): its code is the consent decision that withheld the envelope.
 */
const EXPECTED: Record<ActorName, Record<OperationName, Outcome>> = {
  'own device': all('ok'),
  'other patient': all('NO_CONSENT'),
  'provider, read grant': { ...all('ok'), push: 'FORBIDDEN', 'blob upload': 'FORBIDDEN' },
  'provider, write grant': all('ok'),
  'provider, expired grant': all('CONSENT_EXPIRED'),
  'provider, revoked grant': all('CONSENT_REVOKED'),
  'provider, grant for another type': all('NO_CONSENT'),
  'revoked device': all('DEVICE_REVOKED', 'DEVICE_REVOKED'),
  unauthenticated: all('UNAUTHENTICATED', 'UNAUTHENTICATED'),
  'provider, forged grant signature': all('NO_CONSENT'),
};

const TYPE = 'document';
const HOUR = 3600_000;

interface Actor {
  name: ActorName;
  account?: TestAccount;
  device?: TestDevice;
  client?: WsClient;
  token?: string;
}

describe('authorization matrix', () => {
  let t: TestServer;
  let patient: TestAccount;
  let writer: WsClient;
  let stream: PushDoc['stream'];
  let auditStream: PushDoc['stream'];
  let seedDoc: PushDoc;
  let seedAudit: PushDoc;
  let patientToken: string;
  const envelopes = new Map<string, KeyEnvelope>();
  const actors = new Map<ActorName, Actor>();
  const blob: { id: string; pendingId: string; sealed: Uint8Array; plain: Uint8Array } = {
    id: newId(),
    pendingId: newId(),
    sealed: new Uint8Array(),
    plain: new Uint8Array(),
  };
  const observed: {
    forgedGrant?: ServerFrame | undefined;
    grantsBeforeForgery?: number | undefined;
    grantsAfterForgery?: number | undefined;
    revokeStatus?: number | undefined;
    revokedSocketError?: ServerFrame | undefined;
    revokedSocketClose?: { code: number; reason: string } | undefined;
  } = {};

  const actor = (name: ActorName): Actor => {
    const a = actors.get(name);
    if (!a) throw new Error(`no actor ${name}`);
    return a;
  };

  beforeAll(async () => {
    t = await startServer();
    const now = () => t.clock.now;
    patient = await registerAccount(t);
    const revokedDevice = await addDevice(t, patient);
    const other = await registerAccount(t);
    const provider = async () => registerAccount(t, 'provider');
    const [read, write, expired, revoked, otherType, forged] = await Promise.all([
      provider(),
      provider(),
      provider(),
      provider(),
      provider(),
      provider(),
    ]);
    stream = streamOf(patient.accountId, TYPE);
    auditStream = streamOf(patient.accountId, 'audit');
    writer = await connect(t, patient.device);

    const grant = async (
      grantee: TestAccount,
      scope: Parameters<typeof makeGrant>[2],
      expiresAt?: number,
    ) => {
      const g = await makeGrant(patient, grantee, scope, {
        now: now(),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      });
      const reply = await writer.request({ t: 'grant', rid: writer.rid(), grant: g });
      expect(reply.t).toBe('ok');
      return g;
    };
    await grant(read, [{ type: TYPE, access: 'read' }]);
    await grant(write, [{ type: TYPE, access: 'write' }]);
    await grant(expired, [{ type: TYPE, access: 'write' }], now() + HOUR);
    const toRevoke = await grant(revoked, [{ type: TYPE, access: 'write' }]);
    await grant(otherType, [{ type: 'medication', access: 'write' }]);
    const revocation = await makeRevocation(patient, toRevoke.grant.grantId);
    expect((await writer.request({ t: 'revoke', rid: writer.rid(), revocation })).t).toBe('ok');

    // A grant signed by a key that is not the patient's identity key.
    const forger = await registerAccount(t);
    observed.grantsBeforeForgery = rowCounts(t.store).grants;
    const forgedGrant = await makeGrant(patient, forged, [{ type: TYPE, access: 'write' }], {
      now: now(),
      signer: forger.keys.identity.secretKey,
    });
    observed.forgedGrant = await writer.request({ t: 'grant', rid: writer.rid(), grant: forgedGrant });
    observed.grantsAfterForgery = rowCounts(t.store).grants;

    // Stream key envelopes for every account, so a refused fetch proves filtering, not absence.
    const recipients = [patient, other, read, write, expired, revoked, otherType, forged];
    const envs = await Promise.all(recipients.map((r) => makeEnvelope(patient, patient.device, r, TYPE)));
    expect((await writer.request({ t: 'putEnvelopes', rid: writer.rid(), envelopes: envs })).t).toBe('ok');
    for (const e of envs) envelopes.set(e.recipient, e);

    seedDoc = await makeDoc(patient, patient.device, TYPE, { title: 'discharge letter' });
    seedAudit = await makeAuditDoc(patient, patient.device);
    const seeded = await writer.request<PushedFrame>({
      t: 'push',
      rid: writer.rid(),
      rows: [
        { doc: seedDoc, assumedRev: null },
        { doc: seedAudit, assumedRev: null },
      ],
    });
    expect(seeded.results.map((r) => r.status)).toEqual(['ok', 'ok']);

    // Everything after this instant sees the expired grant as expired.
    t.clock.advance(2 * HOUR);

    patientToken = await sessionToken(t, patient.device);
    const key = deriveInitialStreamKey(patient.root, stream);
    blob.plain = new TextEncoder().encode('scan of a discharge letter '.repeat(40));
    blob.sealed = sealBytes(key, { blobId: blob.id, chunkIndex: 0, epoch: 0 }, blob.plain);
    const manifest = (blobId: string) => ({
      blobId,
      stream,
      size: blob.plain.byteLength,
      chunkSize: 64 * 1024,
      chunkCount: 1,
      digests: [digestOf(blob.sealed)],
    });
    expect((await createBlob(t, patientToken, manifest(blob.id))).status).toBe(200);
    expect((await putChunk(t, patientToken, blob.id, 0, blob.sealed)).status).toBe(200);
    // A manifest whose chunk nobody uploaded yet: refused uploaders must not be able to fill it.
    expect((await createBlob(t, patientToken, manifest(blob.pendingId))).status).toBe(200);

    // The revoked device: a live socket and a session token, then revocation through the HTTP API.
    const revokedToken = await sessionToken(t, revokedDevice);
    const revokedSocket = await connect(t, revokedDevice);
    const revokedRes = await revokeDevice(t, patient, revokedDevice);
    observed.revokeStatus = revokedRes.status;
    observed.revokedSocketClose = await revokedSocket.closed;
    observed.revokedSocketError = revokedSocket.unsolicited.find((f) => f.t === 'error');

    const named: Array<[ActorName, TestAccount | undefined, TestDevice | undefined]> = [
      ['own device', patient, patient.device],
      ['other patient', other, other.device],
      ['provider, read grant', read, read.device],
      ['provider, write grant', write, write.device],
      ['provider, expired grant', expired, expired.device],
      ['provider, revoked grant', revoked, revoked.device],
      ['provider, grant for another type', otherType, otherType.device],
      ['revoked device', patient, revokedDevice],
      ['unauthenticated', undefined, undefined],
      ['provider, forged grant signature', forged, forged.device],
    ];
    for (const [name, account, device] of named) {
      const a: Actor = { name };
      if (account) a.account = account;
      if (device) a.device = device;
      if (name === 'revoked device') a.token = revokedToken;
      else if (device) {
        a.token = await sessionToken(t, device);
        a.client = await connect(t, device);
      }
      actors.set(name, a);
    }
  });

  afterAll(async () => {
    for (const a of actors.values()) await a.client?.close();
    await writer.close();
    await t.stop();
  });

  // ---- how each actor reaches the server ----

  /** A request over the actor's socket; unauthenticated and revoked actors never get that far. */
  const wsRequest = async <T extends ServerFrame>(
    a: Actor,
    frame: ClientFrame,
  ): Promise<{ ok: true; reply: T | ErrorFrame } | { ok: false; code: string }> => {
    if (a.name === 'unauthenticated') {
      const ws = await openWs(t);
      const reply = await ws.request(frame);
      expect(reply).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED' });
      expect((await ws.closed).code).toBe(4001);
      return { ok: false, code: reply.t === 'error' ? reply.code : reply.t };
    }
    if (a.name === 'revoked device') {
      const attempt = await tryConnect(t, a.device!);
      if (attempt.ok) throw new Error('a revoked device authenticated');
      expect((await attempt.client.closed).code).toBe(4001);
      return { ok: false, code: attempt.code };
    }
    return { ok: true, reply: await a.client!.request<T>(frame) };
  };

  /** An HTTP call with the actor's bearer token; a revoked device's token is dead and it cannot get another. */
  const httpAs = async (
    a: Actor,
    call: (token: string | undefined) => Promise<{ status: number; body: unknown }>,
  ): Promise<{ status: number; body: unknown }> => {
    if (a.name !== 'revoked device') return call(a.token);
    const res = await call(a.token);
    expect(res).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    return http(t.url, 'POST', '/v1/auth/challenge', { deviceId: a.device!.deviceId });
  };

  const codeOf = (res: { status: number; body: unknown }): Outcome => {
    if (res.status === 200) return 'ok';
    const code = (res.body as { code?: unknown }).code;
    if (typeof code !== 'string' || !isErrorCode(code))
      throw new Error(`untyped error ${JSON.stringify(res)}`);
    expect(res.status).toBe(ERROR_CODES[code].http);
    return code;
  };

  const asOutcome = (code: string): Outcome => {
    if (!isErrorCode(code)) throw new Error(`not a protocol error code: ${code}`);
    return code;
  };

  const patientPush = async (doc: PushDoc): Promise<void> => {
    const r = await writer.request<PushedFrame>({
      t: 'push',
      rid: writer.rid(),
      rows: [{ doc, assumedRev: null }],
    });
    expect(r.results[0]?.status).toBe('ok');
  };

  /** The server's `denied` entries in the patient's log (denied-access.ts). */
  const deniedEntries = async () =>
    (await serverAccessEntries(t, patient)).filter((e) => e.action === 'denied');

  /** Rows per table, the `denied` entries left out: the one thing a consent refusal may add. */
  const countsOf = async (): Promise<ReturnType<typeof rowCounts>> => {
    const counts = rowCounts(t.store);
    return { ...counts, docs: (counts.docs ?? 0) - (await deniedEntries()).length };
  };

  // ---- the operations; each returns the observed outcome and checks data / non-effects itself ----

  const auditMutation = async (a: Actor, deleted: boolean): Promise<Outcome> => {
    const rowBefore = docRow(t.store, auditStream, seedAudit.id);
    expect(rowBefore).toBeDefined();
    const author = a.device ?? patient.device;
    const ct = 'bm90IHRoZSBvcmlnaW5hbCBlbnRyeQ';
    const doc = {
      stream: auditStream,
      id: seedAudit.id,
      rev: `2-${hexEncode(sha256(new TextEncoder().encode(ct))).slice(0, 24)}`,
      deleted,
      epoch: 0,
      ct,
      author: author.deviceId,
      audit: { authorSeq: 2, prevHash: null, at: new Date(t.clock.now).toISOString() },
    };
    const signed: PushDoc = { ...doc, sig: await sign(author.keys.secretKey, auditSignaturePayload(doc)) };
    const counts = await countsOf();
    const res = await wsRequest<PushedFrame>(a, {
      t: 'push',
      rid: 900_000 + Math.floor(Math.random() * 1000),
      rows: [{ doc: signed, assumedRev: seedAudit.rev }],
    });
    expect(docRow(t.store, auditStream, seedAudit.id)).toEqual(rowBefore);
    expect(await countsOf()).toEqual(counts);
    if (!res.ok) return asOutcome(res.code);
    if (res.reply.t === 'error') return asOutcome(res.reply.code);
    const row = res.reply.results[0];
    if (row?.status !== 'error') throw new Error(`audit mutation answered ${JSON.stringify(row)}`);
    return asOutcome(row.code);
  };

  const OPS: Record<OperationName, (a: Actor) => Promise<Outcome>> = {
    async pull(a) {
      const counts = await countsOf();
      const res = await wsRequest<PulledFrame>(a, {
        t: 'pull',
        rid: 1,
        streams: [{ stream, since: 0 }],
        limit: 100,
        maxBytes: 1 << 20,
      });
      if (!res.ok) {
        expect(await countsOf()).toEqual(counts);
        return asOutcome(res.code);
      }
      const pulled = res.reply as PulledFrame;
      expect(pulled.t).toBe('pulled');
      if (pulled.denied.length > 0) {
        expect(pulled.docs).toEqual([]);
        expect(pulled.denied).toHaveLength(1);
        expect(await countsOf()).toEqual(counts);
        return asOutcome(pulled.denied[0]!.code);
      }
      // The whole history of the stream, the seeded record byte for byte.
      expect(pulled.docs.every((d) => d.stream === stream)).toBe(true);
      expect(pulled.docs.find((d) => d.id === seedDoc.id)).toMatchObject({
        rev: seedDoc.rev,
        ct: seedDoc.ct,
        author: seedDoc.author,
        sig: seedDoc.sig,
        seq: 1,
      });
      return 'ok';
    },

    async push(a) {
      const author = a.device ?? patient.device;
      const doc = await makeDoc(patient, author, TYPE, { title: `written by ${a.name}` });
      const counts = await countsOf();
      const res = await wsRequest<PushedFrame>(a, { t: 'push', rid: 2, rows: [{ doc, assumedRev: null }] });
      const refused = async (code: string): Promise<Outcome> => {
        expect(await countsOf()).toEqual(counts);
        expect(docRow(t.store, stream, doc.id)).toBeUndefined();
        return asOutcome(code);
      };
      if (!res.ok) return refused(res.code);
      if (res.reply.t === 'error') return refused(res.reply.code);
      const result = res.reply.results[0]!;
      if (result.status === 'error') return refused(result.code);
      expect(result).toMatchObject({ status: 'ok', id: doc.id, rev: doc.rev });
      const stored = await t.store.docs.getDoc(stream, doc.id);
      const ct = base64urlDecode(doc.ct);
      expect(ct.ok && stored !== null && Buffer.from(stored.ct).equals(Buffer.from(ct.value))).toBe(true);
      expect(stored).toMatchObject({
        author: author.deviceId,
        rev: doc.rev,
        seq: result.status === 'ok' ? result.seq : -1,
      });
      return 'ok';
    },

    async live(a) {
      const heads = await t.store.docs.streamHeads([stream]);
      const subsBefore = t.server.hub.subscriptions();
      const res = await wsRequest(a, {
        t: 'subscribe',
        rid: 3,
        streams: [{ stream, since: heads[0]!.head }],
      });
      const doc = await makeDoc(patient, patient.device, TYPE, { title: `live for ${a.name}` });
      if (!res.ok || res.reply.t === 'error') {
        expect(t.server.hub.subscriptions()).toBe(subsBefore);
        await patientPush(doc);
        if (a.client) {
          const delivered = await frameWithin(
            a.client,
            (f) => f.t === 'changes' && f.docs.some((d) => d.id === doc.id),
            150,
          );
          expect(delivered).toBe(false);
        }
        return asOutcome(res.ok ? (res.reply as ErrorFrame).code : res.code);
      }
      expect(res.reply.t).toBe('ok');
      await patientPush(doc);
      const changes = await a.client!.waitFor(
        (f: ServerFrame): f is ChangesFrame => f.t === 'changes' && f.docs.some((d) => d.id === doc.id),
      );
      expect(changes.docs.find((d) => d.id === doc.id)).toMatchObject({ ct: doc.ct, rev: doc.rev, stream });
      await a.client!.request({ t: 'unsubscribe', rid: 4, streams: [stream] });
      return 'ok';
    },

    async 'envelope fetch'(a) {
      const counts = await countsOf();
      const res = await wsRequest<EnvelopesFrame>(a, { t: 'getEnvelopes', rid: 5, streams: [stream] });
      if (!res.ok) return asOutcome(res.code);
      const got = (res.reply as EnvelopesFrame).envelopes;
      expect(got.every((e) => e.recipient === a.account!.accountId)).toBe(true);
      if (got.length > 0) {
        expect(got).toEqual([envelopes.get(a.account!.accountId)]);
        return 'ok';
      }
      expect(await countsOf()).toEqual(counts);
      // Withheld: the consent decision gives the reason.
      const principal = await t.server.ctx.loadDevice(a.device!.deviceId);
      const decision = await t.server.service.check(principal, stream, 'envelope-fetch');
      if (decision.ok) throw new Error('envelope withheld although access is allowed');
      return asOutcome(decision.code);
    },

    async 'blob upload'(a) {
      const blobId = newId();
      const key = deriveInitialStreamKey(patient.root, stream);
      const plain = new TextEncoder().encode(`attachment from ${a.name}`);
      const sealed = sealBytes(key, { blobId, chunkIndex: 0, epoch: 0 }, plain);
      const counts = await countsOf();
      const created = await httpAs(a, (token) =>
        createBlob(t, token, {
          blobId,
          stream,
          size: plain.byteLength,
          chunkSize: 64 * 1024,
          chunkCount: 1,
          digests: [digestOf(sealed)],
        }),
      );
      const outcome = codeOf(created);
      if (outcome !== 'ok') {
        // Nor may the actor fill a manifest the patient created.
        const pendingSealed = sealBytes(key, { blobId: blob.pendingId, chunkIndex: 0, epoch: 0 }, blob.plain);
        const chunk = await httpAs(a, (token) => putChunk(t, token, blob.pendingId, 0, pendingSealed));
        expect(codeOf(chunk)).toBe(outcome);
        expect(await countsOf()).toEqual(counts);
        expect(await t.store.blobs.getManifest(blobId)).toBeNull();
        expect(await t.store.blobs.chunkIndexes(blob.pendingId)).toEqual([]);
        return outcome;
      }
      expect(created.body).toEqual({ blobId, have: [] });
      const put = await putChunk(t, a.token, blobId, 0, sealed);
      expect(put).toEqual({ status: 200, body: { have: [0] } });
      // The patient reads back exactly what was uploaded, and it opens.
      const back = await getChunk(t, patientToken, blobId, 0);
      expect(back.status).toBe(200);
      const opened = openBytes(key, { blobId, chunkIndex: 0, epoch: 0 }, back.bytes!);
      expect(opened.ok && new TextDecoder().decode(opened.value)).toBe(`attachment from ${a.name}`);
      return 'ok';
    },

    async 'blob download'(a) {
      const counts = await countsOf();
      const manifest = await httpAs(a, (token) =>
        http(t.url, 'GET', `/v1/blobs/${blob.id}`, undefined, token),
      );
      const chunk =
        a.name === 'revoked device' || a.name === 'unauthenticated'
          ? await httpAs(a, async (token) => {
              const r = await getChunk(t, token, blob.id, 0);
              return { status: r.status, body: r.body ?? r.bytes };
            })
          : await getChunk(t, a.token, blob.id, 0);
      const outcome = codeOf(manifest);
      if (outcome !== 'ok') {
        expect(chunk.status).toBe(manifest.status);
        expect(chunk).not.toHaveProperty('bytes');
        expect((chunk as { body?: unknown }).body).toMatchObject({ code: outcome });
        expect(await countsOf()).toEqual(counts);
        return outcome;
      }
      expect(manifest.body).toMatchObject({ blobId: blob.id, stream, complete: true, have: [0] });
      expect((manifest.body as { digests: string[] }).digests).toEqual([digestOf(blob.sealed)]);
      expect(chunk.status).toBe(200);
      const bytes = (chunk as { bytes?: Uint8Array }).bytes!;
      expect(Buffer.from(bytes).equals(Buffer.from(blob.sealed))).toBe(true);
      const opened = openBytes(
        deriveInitialStreamKey(patient.root, stream),
        { blobId: blob.id, chunkIndex: 0, epoch: 0 },
        bytes,
      );
      expect(opened.ok && Buffer.from(opened.value).equals(Buffer.from(blob.plain))).toBe(true);
      return 'ok';
    },

    'audit update': (a) => auditMutation(a, false),
    'audit delete': (a) => auditMutation(a, true),
  };

  it('the expected-outcome table names every actor and operation', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ACTORS].sort());
    for (const row of Object.values(EXPECTED))
      expect(Object.keys(row).sort()).toEqual([...OPERATIONS].sort());
  });

  it('a grant signed with a key that is not the patient identity key is refused and stores nothing', async () => {
    expect(observed.forgedGrant).toMatchObject({ t: 'error', code: 'BAD_SIGNATURE' });
    expect(observed.grantsAfterForgery).toBe(observed.grantsBeforeForgery);
    const forged = actor('provider, forged grant signature');
    const streams = await forged.client!.request<StreamsFrame>({ t: 'listStreams', rid: 6 });
    expect(streams.streams.filter((s) => s.patientId === patient.accountId)).toEqual([]);
  });

  it('revoking a device closes its open socket with DEVICE_REVOKED and kills its session token', async () => {
    expect(observed.revokeStatus).toBe(200);
    expect(observed.revokedSocketError).toMatchObject({ t: 'error', code: 'DEVICE_REVOKED' });
    expect(observed.revokedSocketClose?.code).toBe(4001);
    const revoked = actor('revoked device');
    const dir = await http(t.url, 'GET', '/v1/directory?q=x', undefined, revoked.token);
    expect(dir).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    const session = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: revoked.device!.deviceId });
    expect(session).toMatchObject({ status: 403, body: { code: 'DEVICE_REVOKED' } });
  });

  const cells = ACTORS.flatMap((a) =>
    OPERATIONS.map((operation) => ({ actor: a, operation, expected: EXPECTED[a][operation] })),
  );

  it.each(cells)('$actor × $operation → $expected', async ({ actor: name, operation, expected }) => {
    const outcome = await OPS[operation](actor(name));
    expect(outcome).toBe(expected);
  });

  it('the patient is told once of each device refused for want of a grant in force, never of FORBIDDEN', async () => {
    const refused = ACTORS.filter((name) =>
      Object.values(EXPECTED[name]).some((o) =>
        ['NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED'].includes(o),
      ),
    );
    const told = (await deniedEntries()).map((e) => [e.actorId, e.actorDeviceId, e.stream, e.count]);
    expect(told.sort()).toEqual(
      refused.map((name) => [actor(name).account!.accountId, actor(name).device!.deviceId, stream, 0]).sort(),
    );
  });
});
