// Listings that grow without bound are paged (paging.ts): `listGrants` on the socket
// and `GET /v1/directory`. Keyset paging on a unique order: walking every page lists each row present for
// the whole walk exactly once, in order, also when rows are inserted between pages; bad cursors and
// limits are refused with typed errors; a directory query without paging gets the first page, no `next`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_DIRECTORY_PAGE,
  DEFAULT_GRANTS_PAGE,
  MAX_DIRECTORY_PAGE,
  MAX_GRANTS_PAGE,
  type GrantsFrame,
  type HttpDirectoryResponse,
  type ListGrantsFrame,
  type ServerFrame,
} from '@hale/protocol';
import {
  connect,
  http,
  insertDirectoryProvider,
  insertRawGrants,
  registerAccount,
  sessionToken,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';
import type { Grant } from './store/types';

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let t: TestServer;
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  await t.stop();
});

type Query = Omit<ListGrantsFrame, 't' | 'rid'>;

const listGrants = (c: WsClient, query: Query): Promise<ServerFrame> =>
  c.request({ t: 'listGrants', rid: c.rid(), ...query });

/** Every page of a walk with `query`; `between(n)` runs after page n (1-based) is read. */
const walkGrants = async (
  c: WsClient,
  query: Query,
  between?: (page: number, frame: GrantsFrame) => Promise<void> | void,
): Promise<GrantsFrame[]> => {
  const pages: GrantsFrame[] = [];
  let cursor: string | undefined;
  for (;;) {
    const frame = await listGrants(c, { ...query, ...(cursor === undefined ? {} : { cursor }) });
    if (frame.t !== 'grants') throw new Error(`expected grants, got ${JSON.stringify(frame)}`);
    pages.push(frame);
    if (pages.length > 1000) throw new Error('the walk does not end');
    if (frame.next === undefined) return pages;
    await between?.(pages.length, frame);
    cursor = frame.next;
  }
};

const idsOf = (pages: GrantsFrame[]) => pages.flatMap((p) => p.grants.map((g) => g.grant.grant.grantId));

/** The paged order: newest issued first, ties by id, descending. */
const byKeyDescending = (a: Grant, b: Grant) =>
  a.issuedAt === b.issuedAt ? (a.grantId < b.grantId ? 1 : -1) : a.issuedAt < b.issuedAt ? 1 : -1;

/** What a whole walk should list, read from the store: issued grants, then received ones. */
const expectedOrder = async (account: TestAccount, keep: (g: Grant) => boolean = () => true) => {
  const issued = (await t.store.grants.listForPatient(account.accountId)).filter(keep).sort(byKeyDescending);
  const received = (await t.store.grants.listForGrantee(account.accountId))
    .filter(keep)
    .sort(byKeyDescending);
  return [...issued, ...received].map((g) => g.grantId);
};

const isError = (frame: ServerFrame, code: string) => frame.t === 'error' && frame.code === code;

/** A cursor as the server would read it back: base64url of a JSON payload (for forging only). */
const cursorOf = (payload: unknown) => Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');

describe('listGrants pages', () => {
  it('walks every grant exactly once, issued then received, newest issued first; the last page says so', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const now = t.clock.now;
    // Two batches with the same `now` issue grants at the same instants: ties are ordered by id.
    insertRawGrants(t.store, patient, provider, 600, { now });
    insertRawGrants(t.store, patient, provider, 400, { now, revokedAt: now - HOUR });
    insertRawGrants(t.store, stranger, patient, 500, { now, expiresAt: now - 1 });
    const c = await connect(t, patient.device);

    const pages = await walkGrants(c, { limit: 250 });
    expect(pages.map((p) => p.grants.length)).toEqual([250, 250, 250, 250, 250, 250]);
    expect(pages.at(-1)?.next).toBeUndefined();
    const listed = idsOf(pages);
    expect(new Set(listed).size).toBe(1500);
    expect(listed).toEqual(await expectedOrder(patient));
    // Revocations travel with their grants, as in the unpaged answer.
    const revoked = pages.flatMap((p) => p.grants).filter((g) => g.revokedAt !== undefined);
    expect(revoked).toHaveLength(400);

    // Without a limit a page holds DEFAULT_GRANTS_PAGE grants; the largest page MAX_GRANTS_PAGE.
    const first = await listGrants(c, {});
    expect(first.t === 'grants' && first.grants.length).toBe(DEFAULT_GRANTS_PAGE);
    expect(first.t === 'grants' && first.next).toBeTruthy();
    const widest = await walkGrants(c, { limit: MAX_GRANTS_PAGE });
    expect(widest.map((p) => p.grants.length)).toEqual([MAX_GRANTS_PAGE, 500]);
    expect(idsOf(widest)).toEqual(listed);
    await c.close();
  });

  it('stays exact when grants are inserted and revoked between pages', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const now = t.clock.now;
    insertRawGrants(t.store, patient, provider, 700, { now });
    insertRawGrants(t.store, stranger, patient, 300, { now });
    const before = await expectedOrder(patient);
    const c = await connect(t, patient.device);

    const side = (g: Grant) => (g.patientId === patient.accountId ? 0 : 1);
    /** Whether `g` comes after `last` in the walk's order (issued first; newest issued first). */
    const after = (last: Grant, g: Grant) =>
      side(g) !== side(last)
        ? side(g) > side(last)
        : g.issuedAt !== last.issuedAt
          ? g.issuedAt < last.issuedAt
          : g.grantId < last.grantId;
    const ahead: string[] = [];
    const behind: string[] = [];
    const pages = await walkGrants(c, { limit: 100 }, async (page, frame) => {
      const lastId = frame.grants.at(-1)!.grant.grant.grantId;
      const last = (await t.store.grants.get(lastId))!;
      // Newer and older than everything, on both sides: where each falls depends on the walk's position.
      const inserted = [
        ...insertRawGrants(t.store, patient, provider, 4, { now: now + page * HOUR }),
        ...insertRawGrants(t.store, stranger, patient, 4, { now: now + page * HOUR }),
        ...insertRawGrants(t.store, patient, provider, 3, { now: now - page * HOUR }),
        ...insertRawGrants(t.store, stranger, patient, 3, { now: now - page * HOUR }),
      ];
      for (const id of inserted) (after(last, (await t.store.grants.get(id))!) ? ahead : behind).push(id);
      // A revocation changes no key: nothing moves.
      const some = before[page * 37];
      if (some !== undefined) await t.store.grants.revoke(some, iso(now), { revoked: true });
    });
    // Both cases happened: grants inserted ahead of the walk and behind it.
    expect(ahead.length).toBeGreaterThan(20);
    expect(behind.length).toBeGreaterThan(20);
    const listed = idsOf(pages);
    expect(new Set(listed).size, 'no grant listed twice').toBe(listed.length);
    // Every grant there from the start, and every one inserted ahead of the walk, once, in order.
    expect(listed).toEqual((await expectedOrder(patient)).filter((id) => !behind.includes(id)));
    for (const id of before) expect(listed, id).toContain(id);
    for (const id of ahead) expect(listed, id).toContain(id);
    await c.close();
  });

  it('lists one side, or only unended grants, paged the same way', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const now = t.clock.now;
    insertRawGrants(t.store, patient, provider, 150, { now });
    insertRawGrants(t.store, patient, provider, 900, { now: now - HOUR, revokedAt: now - HOUR });
    insertRawGrants(t.store, patient, provider, 900, { now: now - 2 * HOUR, expiresAt: now });
    insertRawGrants(t.store, stranger, patient, 120, { now });
    insertRawGrants(t.store, stranger, patient, 800, { now, expiresAt: now - 1 });
    const c = await connect(t, patient.device);
    const unended = (g: Grant) => g.revokedAt === undefined && g.expiresAt > iso(now);

    const active = await walkGrants(c, { active: true, limit: 100 });
    expect(idsOf(active)).toEqual(await expectedOrder(patient, unended));
    expect(idsOf(active)).toHaveLength(270);
    expect(active).toHaveLength(3);

    const issued = await walkGrants(c, { side: 'issued', limit: 500 });
    expect(idsOf(issued)).toEqual(await expectedOrder(patient, (g) => g.patientId === patient.accountId));
    const received = await walkGrants(c, { side: 'received', active: true });
    expect(idsOf(received)).toEqual(
      await expectedOrder(patient, (g) => g.granteeId === patient.accountId && unended(g)),
    );
    // The provider's own walk holds the grants it received, from every side of its account.
    const d = await connect(t, provider.device);
    expect(idsOf(await walkGrants(d, { side: 'issued' }))).toEqual([]);
    expect(idsOf(await walkGrants(d, { active: true }))).toHaveLength(150);
    await d.close();
    await c.close();
  });

  it('refuses bad cursors with BAD_CURSOR and bad limits with BAD_MESSAGE; the connection carries on', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    insertRawGrants(t.store, patient, provider, 30, { now: t.clock.now });
    const c = await connect(t, patient.device);
    const first = await listGrants(c, { limit: 10, side: 'issued' });
    if (first.t !== 'grants' || first.next === undefined) throw new Error('expected a page with next');
    const good = first.next;
    const payload = JSON.parse(Buffer.from(good, 'base64url').toString('utf8')) as Record<string, unknown>;

    for (const limit of [0, -1, MAX_GRANTS_PAGE + 1, 1.5]) {
      expect(isError(await listGrants(c, { limit }), 'BAD_MESSAGE'), `limit ${limit}`).toBe(true);
    }
    const malformed = ['', 'not base64url!', '==', 'a'.repeat(5000)];
    for (const cursor of malformed) {
      const answer = await listGrants(c, { cursor });
      expect(answer.t === 'error' && ['BAD_MESSAGE', 'TOO_LARGE'].includes(answer.code), cursor).toBe(true);
    }
    const refused: Array<[string, string]> = [
      ['not JSON', Buffer.from('hello', 'utf8').toString('base64url')],
      ['not an object', cursorOf([1, 2])],
      ['no payload of this listing', cursorOf({ ...payload, k: 'directory' })],
      ['a later format', cursorOf({ ...payload, v: 2 })],
      ['an unknown property', cursorOf({ ...payload, extra: 1 })],
      ['a missing key', cursorOf({ ...payload, grantId: undefined })],
      ['a key too long', cursorOf({ ...payload, grantId: 'x'.repeat(65) })],
      ['a bad side', cursorOf({ ...payload, side: 'both' })],
      ['a cut-off cursor', good.slice(0, -3)],
    ];
    for (const [why, cursor] of refused) {
      const answer = await listGrants(c, { cursor, side: 'issued' });
      expect(answer, why).toMatchObject({ t: 'error', code: 'BAD_CURSOR' });
    }
    // A cursor names its filters: asking with others is refused rather than answered from a wrong place.
    for (const filters of [{}, { side: 'received' as const }, { side: 'issued' as const, active: true }]) {
      const answer = await listGrants(c, { cursor: good, ...filters });
      expect(answer, JSON.stringify(filters)).toMatchObject({ t: 'error', code: 'BAD_CURSOR' });
    }
    // The good cursor still works, and so does the connection.
    const second = await listGrants(c, { cursor: good, side: 'issued', limit: 10 });
    expect(second.t === 'grants' && second.grants.length).toBe(10);
    await c.close();
  });
});

// ---- directory ----

interface Provider {
  accountId: string;
  displayName: string;
}

/** A provider account and its signed directory entry, written through the store. */
const addProvider = async (displayName: string, clinic = 'Northside'): Promise<Provider> => {
  const profile = { displayName, specialty: 'general practice', clinic };
  return { accountId: await insertDirectoryProvider(t.store, profile, iso(t.clock.now)), displayName };
};

/** ASCII case folding, as SQLite's NOCASE: the names below are ASCII. */
const byName = (a: Provider, b: Provider) => {
  const x = a.displayName.toLowerCase();
  const y = b.displayName.toLowerCase();
  return x === y ? (a.accountId < b.accountId ? -1 : 1) : x < y ? -1 : 1;
};

const search = async (token: string, query: Record<string, string | number | boolean>) => {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  return http(t.url, 'GET', `/v1/directory?${qs}`, undefined, token);
};

const walkDirectory = async (
  token: string,
  query: Record<string, string | number | boolean>,
  between?: (page: number) => Promise<void>,
): Promise<HttpDirectoryResponse[]> => {
  const pages: HttpDirectoryResponse[] = [];
  let cursor: string | undefined;
  for (;;) {
    const res = await search(token, { ...query, ...(cursor === undefined ? {} : { cursor }) });
    if (res.status !== 200) throw new Error(`directory: ${res.status} ${JSON.stringify(res.body)}`);
    const page = res.body as HttpDirectoryResponse;
    pages.push(page);
    if (pages.length > 1000) throw new Error('the walk does not end');
    if (page.next === undefined) return pages;
    await between?.(pages.length);
    cursor = page.next;
  }
};

const namesOf = (pages: HttpDirectoryResponse[]) =>
  pages.flatMap((p) => p.providers.map((e) => e.profile.accountId));

describe('directory pages', () => {
  const names = ['Dr Adams', 'dr adams', 'Dr Baker', 'DR BAKER', 'Dr Chen', 'dr Diaz', 'Dr Evans', 'Dr Ng'];

  it('walks every matching provider exactly once, by name then account id; the last page says so', async () => {
    const providers: Provider[] = [];
    for (let i = 0; i < 250; i++) providers.push(await addProvider(names[i % names.length]!));
    await addProvider('Dr Elsewhere', 'Southside');
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);

    const pages = await walkDirectory(token, { q: 'northside', limit: MAX_DIRECTORY_PAGE });
    expect(pages.map((p) => p.providers.length)).toEqual([100, 100, 50]);
    expect(namesOf(pages)).toEqual([...providers].sort(byName).map((p) => p.accountId));

    // A page the size of what is left ends the walk: no empty page after it.
    const exact = await walkDirectory(token, { q: 'northside', limit: 50 });
    expect(exact.map((p) => p.providers.length)).toEqual([50, 50, 50, 50, 50]);
    // Default page size, and the whole directory without `q`.
    const all = await walkDirectory(token, {});
    expect(all[0]?.providers).toHaveLength(DEFAULT_DIRECTORY_PAGE);
    expect(namesOf(all)).toHaveLength(251);
  });

  it('stays exact when providers are added between pages', async () => {
    const providers: Provider[] = [];
    for (let i = 0; i < 120; i++) providers.push(await addProvider(names[i % names.length]!));
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const early: Provider[] = [];
    const late: Provider[] = [];
    const pages = await walkDirectory(token, { q: 'north', limit: 25 }, async () => {
      early.push(await addProvider('Dr Aaron')); // before every name listed so far
      late.push(await addProvider('Dr Zimmer')); // after every name
    });
    const listed = namesOf(pages);
    expect(new Set(listed).size, 'no provider listed twice').toBe(listed.length);
    expect(listed).toEqual([...providers, ...late].sort(byName).map((p) => p.accountId));
    for (const p of early) expect(listed).not.toContain(p.accountId);
  });

  it('answers the first page with next while more match, and none for a page that holds the rest', async () => {
    for (let i = 0; i < 30; i++) await addProvider(names[i % names.length]!);
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const res = await search(token, { q: 'north' });
    expect(res.status).toBe(200);
    const body = res.body as HttpDirectoryResponse;
    expect(body.providers).toHaveLength(DEFAULT_DIRECTORY_PAGE);
    expect(body.next).toBeTruthy();
    const limited = (await search(token, { q: 'north', limit: 30 })).body as HttpDirectoryResponse;
    expect(limited.providers).toHaveLength(30);
    expect(Object.keys(limited)).toEqual(['providers']);
  });

  it('refuses bad cursors with 400 BAD_CURSOR and bad limits or flags with 400 BAD_MESSAGE', async () => {
    for (let i = 0; i < 5; i++) await addProvider(names[i]!);
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const first = (await search(token, { q: 'north', limit: 2 })).body as HttpDirectoryResponse;
    const good = first.next!;
    expect(good).toBeTruthy();
    const payload = JSON.parse(Buffer.from(good, 'base64url').toString('utf8')) as Record<string, unknown>;

    for (const query of [
      { limit: 0 },
      { limit: MAX_DIRECTORY_PAGE + 1 },
      { limit: '1e2' },
      { paged: true },
    ]) {
      const res = await search(token, query);
      expect(res, JSON.stringify(query)).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    }
    for (const cursor of ['not base64url!', 'a'.repeat(5000)]) {
      const res = await search(token, { q: 'north', cursor });
      expect([400, 413]).toContain(res.status);
      expect((res.body as { code: string }).code).not.toBe('BAD_CURSOR');
    }
    const refused: Array<[string, Record<string, string | number>]> = [
      ['not JSON', { q: 'north', cursor: Buffer.from('{', 'utf8').toString('base64url') }],
      ['a grants cursor', { q: 'north', cursor: cursorOf({ ...payload, k: 'grants' }) }],
      ['an unknown property', { q: 'north', cursor: cursorOf({ ...payload, extra: true }) }],
      ['an empty name', { q: 'north', cursor: cursorOf({ ...payload, name: '' }) }],
      ['another query', { q: 'south', cursor: good }],
      ['no query', { cursor: good }],
    ];
    for (const [why, query] of refused) {
      expect(await search(token, query), why).toMatchObject({ status: 400, body: { code: 'BAD_CURSOR' } });
    }
    const second = (await search(token, { q: 'north', limit: 2, cursor: good }))
      .body as HttpDirectoryResponse;
    expect(second.providers).toHaveLength(2);
    expect(namesOf([first, second])).toHaveLength(4);
  });
});
