// `listStreams` is paged (paging.ts): a provider that follows thousands of patients would otherwise get
// one answer larger than a frame, which its device refuses, so it could not sync at all. Keyset paging by stream id: a walk lists every stream readable throughout exactly
// once, also while grants change between pages; a request without `limit` gets a bounded page; bad cursors
// and limits are refused with typed errors and change nothing.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STREAM_TYPES } from '@hale/model';
import {
  DEFAULT_STREAMS_PAGE,
  GRANTABLE_STREAM_TYPES,
  MAX_FRAME_BYTES,
  MAX_STREAMS_PAGE,
  type ListStreamsFrame,
  type ServerFrame,
  type StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  insertRawGrants,
  makeDoc,
  registerAccount,
  rowCounts,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

const iso = (ms: number) => new Date(ms).toISOString();
const everyType = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));

let t: TestServer;
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  await t.stop();
});

type Query = Omit<ListStreamsFrame, 't' | 'rid'>;

const listStreams = (c: WsClient, query: Query = {}): Promise<ServerFrame> =>
  c.request({ t: 'listStreams', rid: c.rid(), ...query });

/** Every page of a walk; `between(n, page)` runs after page n (1-based) was read. */
const walk = async (
  c: WsClient,
  query: Query,
  between?: (page: number, frame: StreamsFrame) => Promise<void> | void,
): Promise<StreamsFrame[]> => {
  const pages: StreamsFrame[] = [];
  let cursor: string | undefined;
  for (;;) {
    const frame = await listStreams(c, { ...query, ...(cursor === undefined ? {} : { cursor }) });
    if (frame.t !== 'streams') throw new Error(`expected streams, got ${JSON.stringify(frame)}`);
    pages.push(frame);
    if (pages.length > 10_000) throw new Error('the walk does not end');
    if (frame.next === undefined) return pages;
    await between?.(pages.length, frame);
    cursor = frame.next;
  }
};

const idsOf = (pages: StreamsFrame[]): string[] => pages.flatMap((p) => p.streams.map((s) => s.stream));
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `count` patients each granting `grantee` every grantable type; answers patient id → grant id. Their
 * accounts are bare rows (the listing reads none of them), written with the grants through the store.
 */
const grantingPatients = (grantee: TestAccount, count: number): Map<string, string> => {
  const addAccount = t.store.db.prepare(
    `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
     VALUES (?, 'patient', 'idk', 'wrk', '{}', ?)`,
  );
  const ids = Array.from({ length: count }, () => randomBytes(16).toString('base64url'));
  t.store.db.transaction(() => {
    for (const id of ids) addAccount.run(id, iso(t.clock.now));
  })();
  const out = new Map<string, string>();
  for (const accountId of ids) {
    const [grantId] = insertRawGrants(t.store, { accountId }, grantee, 1, {
      now: t.clock.now,
      scope: everyType,
    });
    out.set(accountId, grantId!);
  }
  return out;
};

const streamsOf = (patientIds: Iterable<string>, own?: string): string[] => [
  ...(own === undefined ? [] : STREAM_TYPES.map((type) => `${own}/${type}`)),
  ...[...patientIds].flatMap((id) => GRANTABLE_STREAM_TYPES.map((type) => `${id}/${type}`)),
];

describe('listStreams pages', () => {
  it('walks every stream exactly once, by id; the last page says so', async () => {
    const provider = await registerAccount(t, 'provider');
    const patients = grantingPatients(provider, 60);
    // One patient with a record, so a head other than 0 travels through the pages.
    const patient = await registerAccount(t);
    insertRawGrants(t.store, patient, provider, 1, { now: t.clock.now, scope: everyType });
    const p = await connect(t, patient.device);
    const doc = await makeDoc(patient, patient.device, 'allergy', { substance: 'penicillin' });
    expect(await p.request({ t: 'push', rid: p.rid(), rows: [{ doc, assumedRev: null }] })).toMatchObject({
      t: 'pushed',
    });
    await p.close();

    const c = await connect(t, provider.device);
    const expected = streamsOf([...patients.keys(), patient.accountId], provider.accountId).sort(byId);
    // Every stream type of the provider's own account, and each grantable type of 61 patients.
    expect(expected).toHaveLength(STREAM_TYPES.length + 61 * (STREAM_TYPES.length - 1));

    const pages = await walk(c, { limit: 100 });
    const full = Math.floor(expected.length / 100);
    expect(pages.map((page) => page.streams.length)).toEqual([
      ...Array.from({ length: full }, () => 100),
      expected.length - full * 100,
    ]);
    expect(pages.at(-1)?.next).toBeUndefined();
    expect(idsOf(pages)).toEqual(expected);
    const allergy = pages.flatMap((page) => page.streams).find((s) => s.stream === doc.stream);
    expect(allergy).toMatchObject({ access: 'read', head: 1, patientId: patient.accountId });
    expect(allergy?.grantId).toBeDefined();
    const own = pages.flatMap((page) => page.streams).filter((s) => s.patientId === provider.accountId);
    expect(own.map((s) => s.access)).toEqual(STREAM_TYPES.map(() => 'owner'));

    // A page the size of what is left ends the walk: no empty page after it.
    const exact = await walk(c, { limit: expected.length });
    expect(exact.map((page) => page.streams.length)).toEqual([expected.length]);
    const ones = await walk(c, { limit: 1 });
    expect(ones).toHaveLength(expected.length);
    expect(idsOf(ones)).toEqual(expected);
    await c.close();
  });

  it('stays exact while grants are given and revoked between pages', async () => {
    const provider = await registerAccount(t, 'provider');
    const patients = grantingPatients(provider, 80);
    const before = [...patients.keys()];
    const c = await connect(t, provider.device);

    const added: Array<{ patientId: string; after: string }> = [];
    const revoked: Array<{ patientId: string; after: string }> = [];
    const pages = await walk(c, { limit: 97 }, async (page, frame) => {
      const last = frame.streams.at(-1)!.stream;
      // New patients land before and after the walk's position (random ids); some present ones lose access.
      for (const [patientId] of grantingPatients(provider, 4)) added.push({ patientId, after: last });
      for (const patientId of [before[page * 3], before[page * 7 + 1]]) {
        if (patientId === undefined || revoked.some((r) => r.patientId === patientId)) continue;
        await t.store.grants.revoke(patients.get(patientId)!, iso(t.clock.now), { revoked: true });
        revoked.push({ patientId, after: last });
      }
    });
    expect(pages.length).toBeGreaterThan(5);
    const listed = idsOf(pages);
    expect(new Set(listed).size, 'no stream listed twice').toBe(listed.length);
    expect([...listed].sort(byId), 'in order').toEqual(listed);

    const gone = new Set(revoked.map((r) => r.patientId));
    const throughout = streamsOf(
      before.filter((id) => !gone.has(id)),
      provider.accountId,
    );
    for (const stream of throughout) expect(listed, stream).toContain(stream);
    // A stream that became readable mid-walk is listed iff its id falls after the page already read; one
    // that stopped being readable iff its page was read before.
    let ahead = 0;
    let behind = 0;
    for (const { patientId, after } of added) {
      for (const stream of streamsOf([patientId])) {
        if (stream > after) ahead++;
        else behind++;
        expect(listed.includes(stream), `added ${stream} after ${after}`).toBe(stream > after);
      }
    }
    for (const { patientId, after } of revoked) {
      for (const stream of streamsOf([patientId])) {
        expect(listed.includes(stream), `revoked ${stream} after ${after}`).toBe(stream <= after);
      }
    }
    // Both cases happened.
    expect(ahead).toBeGreaterThan(20);
    expect(behind).toBeGreaterThan(20);
    expect(revoked.length).toBeGreaterThan(5);
    await c.close();
  });

  it('without a limit answers a bounded page with next, never the whole list in one frame', async () => {
    const provider = await registerAccount(t, 'provider');
    const patients = grantingPatients(
      provider,
      Math.ceil(MAX_STREAMS_PAGE / GRANTABLE_STREAM_TYPES.length) + 5,
    );
    const expected = streamsOf(patients.keys(), provider.accountId).sort(byId);
    expect(expected.length).toBeGreaterThan(DEFAULT_STREAMS_PAGE);

    const c = await connect(t, provider.device);
    const first = await listStreams(c);
    if (first.t !== 'streams') throw new Error(JSON.stringify(first));
    expect(first.streams).toHaveLength(DEFAULT_STREAMS_PAGE);
    expect(first.next).toBeDefined();
    expect(Buffer.byteLength(JSON.stringify(first))).toBeLessThan(MAX_FRAME_BYTES / 2);
    const rest = await listStreams(c, { cursor: first.next! });
    if (rest.t !== 'streams') throw new Error(JSON.stringify(rest));
    expect(rest.next).toBeUndefined();
    expect(idsOf([first, rest])).toEqual(expected);
    // The widest page a device may ask for is the default one.
    const widest = await walk(c, { limit: MAX_STREAMS_PAGE });
    expect(widest.map((page) => page.streams.length)).toEqual([
      MAX_STREAMS_PAGE,
      expected.length - MAX_STREAMS_PAGE,
    ]);
    await c.close();
  });

  it('refuses bad cursors (BAD_CURSOR) and limits (BAD_MESSAGE), changing nothing; the walk carries on', async () => {
    const provider = await registerAccount(t, 'provider');
    grantingPatients(provider, 5);
    const c = await connect(t, provider.device);
    const first = await listStreams(c, { limit: 10 });
    if (first.t !== 'streams' || first.next === undefined) throw new Error('expected a page with next');
    const good = first.next;
    const payload = JSON.parse(Buffer.from(good, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload).toEqual({ v: 1, k: 'streams', stream: first.streams.at(-1)!.stream });
    const grants = await c.request({ t: 'listGrants', rid: c.rid(), limit: 1 });
    if (grants.t !== 'grants' || grants.next === undefined)
      throw new Error('expected a grants page with next');
    const counts = rowCounts(t.store);

    for (const limit of [0, -1, MAX_STREAMS_PAGE + 1, 1.5]) {
      expect(await listStreams(c, { limit }), `limit ${limit}`).toMatchObject({
        t: 'error',
        code: 'BAD_MESSAGE',
      });
    }
    for (const cursor of ['', 'not base64url!', '==', 'a'.repeat(5000)]) {
      const answer = await listStreams(c, { cursor });
      expect(answer.t === 'error' && ['BAD_MESSAGE', 'TOO_LARGE'].includes(answer.code), cursor).toBe(true);
    }
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    const refused: Array<[string, string]> = [
      ['not JSON', Buffer.from('hello', 'utf8').toString('base64url')],
      ['not an object', cursorOf([1, 2])],
      ['a listGrants cursor', grants.next],
      ['an accepted-patients cursor', cursorOf({ v: 1, k: 'accepted', patientId: provider.accountId })],
      ['a directory cursor', cursorOf({ v: 1, k: 'directory', q: '', name: 'Dr A', accountId: 'a' })],
      ['another kind, same key', cursorOf({ ...payload, k: 'grants' })],
      ['a later format', cursorOf({ ...payload, v: 2 })],
      ['an unknown property', cursorOf({ ...payload, extra: 1 })],
      ['a missing key', cursorOf({ ...payload, stream: undefined })],
      ['a key too long', cursorOf({ ...payload, stream: 'x'.repeat(65) })],
      ['a cut-off cursor', good.slice(0, -3)],
    ];
    for (const [why, cursor] of refused) {
      expect(await listStreams(c, { cursor }), why).toMatchObject({ t: 'error', code: 'BAD_CURSOR' });
    }
    // And the other way round: a streams cursor continues no other listing.
    expect(await c.request({ t: 'listGrants', rid: c.rid(), cursor: good })).toMatchObject({
      t: 'error',
      code: 'BAD_CURSOR',
    });
    expect(rowCounts(t.store)).toEqual(counts);
    // The good cursor still works, and so does the connection.
    const second = await listStreams(c, { cursor: good, limit: 10 });
    expect(second.t === 'streams' && second.streams[0]!.stream > first.streams.at(-1)!.stream).toBe(true);
    await c.close();
  });
});
