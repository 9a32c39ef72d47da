// A clinic's provider follows up to 10,000 accepted patients (13 record types each: about 130,000 streams).
// Every `listStreams` page and every pull used to load, parse and sort ALL of the provider's unended
// grants, so a whole walk of the stream list read them once per page (7.5–9 s at 11,000 patients) and a
// pull naming a handful of streams paid for every patient. These tests build such a clinic straight in
// the store (bare account rows and grant rows, as stream-paging.test.ts does; nothing here reads a grant's
// signature) and check that
// - a page reads the grants of the patients it lists (plus a boundary), and a walk each grant about once;
//   a pull or a check reads the grants of the patients it names only;
// - what they answer is exactly what deciding from all of the provider's unended grants answers: the
//   same rows in the same order with the same grant, the same cursors, the same refusals with the same
//   codes (revoked, expired, not started, granted to another provider, several grants per pair, write
//   and read), also from cursors a device forged.
// HALE_SCALE_TIMINGS=1 prints how long the walk and the pulls took (never asserted: no timed tests).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_TYPES } from '@hale/model';
import { GRANTABLE_STREAM_TYPES, type StreamAccess, type StreamId } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { openSqliteStore, type Grant, type SqliteStore, type SyncStore } from '../store/index';
import { decideAccess, grantedStreams, type Operation, type Principal } from './access';
import { encodeCursor } from './page-cursor';
import { createSyncService, type SyncService } from './sync-service';

const PATIENTS = 10_000;
const NOW = Date.parse('2031-03-01T12:00:00.000Z');
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const newAccountId = () => randomBytes(16).toString('base64url');
const SHOW_TIMINGS = process.env['HALE_SCALE_TIMINGS'] === '1';

/**
 * What a patient granted, by its index: most grant the provider every type to read; the others cover the
 * cases a decision tells apart. Every 25th patient is of each special kind.
 */
type Kind = 'plain' | 'two-grants' | 'revoked' | 'expired' | 'not-started' | 'other-grantee' | 'mixed';
const kindOf = (i: number): Kind =>
  (['two-grants', 'revoked', 'expired', 'not-started', 'other-grantee', 'mixed'] as const)[i % 25] ?? 'plain';

const everyType = (access: 'read' | 'write') => GRANTABLE_STREAM_TYPES.map((type) => ({ type, access }));

interface Clinic {
  dir: string;
  store: SqliteStore;
  provider: Principal;
  patients: Array<{ id: string; kind: Kind }>;
  /** Every stream the provider may sync, by id: the account's own, then granted ones. */
  reference: Array<Pick<StreamAccess, 'stream' | 'patientId' | 'type' | 'access' | 'grantId' | 'expiresAt'>>;
  unended: Grant[];
}

const buildClinic = async (): Promise<Clinic> => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hale-scale-'));
  const store = await openSqliteStore({ dataDir: dir });
  const providerId = newAccountId();
  const otherId = newAccountId();
  const patients = Array.from({ length: PATIENTS }, (_, i) => ({ id: newAccountId(), kind: kindOf(i) }));
  const addAccount = store.db.prepare(
    `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
     VALUES (?, ?, 'idk', 'wrk', '{}', ?)`,
  );
  const addGrant = store.db.prepare(
    `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at,
       signed, revoked_at, revocation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  let issued = NOW - 48 * HOUR;
  const grant = (
    patientId: string,
    granteeId: string,
    scope: Array<{ type: string; access: 'read' | 'write' }>,
    times: { start?: number; expiresAt?: number; revokedAt?: number } = {},
  ) => {
    issued += 1;
    const g = {
      v: 1,
      grantId: randomBytes(16).toString('base64url'),
      patientId,
      granteeId,
      scope,
      start: iso(times.start ?? NOW - 24 * HOUR),
      expiresAt: iso(times.expiresAt ?? NOW + 24 * HOUR),
      purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
      issuedAt: iso(issued),
    };
    addGrant.run(
      g.grantId,
      patientId,
      granteeId,
      JSON.stringify(scope),
      g.start,
      g.expiresAt,
      g.issuedAt,
      JSON.stringify({ grant: g, sig: 'A'.repeat(86) }),
      times.revokedAt === undefined ? null : iso(times.revokedAt),
    );
  };
  store.db.transaction(() => {
    addAccount.run(providerId, 'provider', iso(NOW));
    addAccount.run(otherId, 'provider', iso(NOW));
    for (const p of patients) addAccount.run(p.id, 'patient', iso(NOW));
    // Issued in a shuffled patient order, so issue order and id order disagree.
    for (const p of [...patients].sort(() => Math.random() - 0.5)) {
      switch (p.kind) {
        case 'plain':
          grant(p.id, providerId, everyType('read'));
          break;
        case 'two-grants':
          grant(p.id, providerId, everyType('read'));
          grant(p.id, providerId, [
            { type: 'allergy', access: 'write' },
            { type: 'medication', access: 'write' },
          ]);
          break;
        case 'revoked':
          grant(p.id, providerId, everyType('read'), { revokedAt: NOW - HOUR });
          break;
        case 'expired':
          grant(p.id, providerId, everyType('read'), { expiresAt: NOW - HOUR });
          break;
        case 'not-started':
          grant(p.id, providerId, everyType('read'), { start: NOW + HOUR });
          break;
        case 'other-grantee':
          grant(p.id, otherId, everyType('write'));
          break;
        case 'mixed':
          grant(p.id, providerId, everyType('write'), { expiresAt: NOW - HOUR });
          grant(p.id, providerId, [{ type: 'allergy', access: 'read' }]);
          grant(p.id, providerId, [{ type: 'allergy', access: 'read' }], { start: NOW + HOUR });
          break;
      }
    }
  })();
  const provider: Principal = { accountId: providerId, deviceId: 'D'.repeat(22), role: 'provider' };
  // The rows as deciding from every unended grant lists them: what the listing always answered.
  const unended = await store.grants.listUnended({ granteeId: providerId }, iso(NOW));
  const own = STREAM_TYPES.map((type) => ({
    stream: `${providerId}/${type}`,
    patientId: providerId,
    type,
    access: 'owner' as const,
  }));
  const granted = grantedStreams(unended, providerId, NOW);
  const reference = [...own, ...granted]
    .map((s) => ({ ...s, stream: s.stream as StreamAccess['stream'] }))
    .sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
  return { dir, store, provider, patients, reference, unended };
};

const serviceOn = (store: SyncStore): SyncService =>
  createSyncService({
    store,
    now: () => NOW,
    ed: createNodeEd25519(),
    server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
  });

/** `store`, noting every grant any of its grant listings answers. */
const countingGrants = (store: SyncStore): { store: SyncStore; read: Grant[] } => {
  const read: Grant[] = [];
  const note = (grants: Grant[]): Grant[] => {
    read.push(...grants);
    return grants;
  };
  const g = store.grants;
  return {
    read,
    store: {
      ...store,
      grants: {
        ...g,
        listForPatient: async (...a) => note(await g.listForPatient(...a)),
        listForGrantee: async (...a) => note(await g.listForGrantee(...a)),
        listUnended: async (...a) => note(await g.listUnended(...a)),
        listUnendedByPatient: async (...a) => note(await g.listUnendedByPatient(...a)),
        listUnendedFrom: async (...a) => note(await g.listUnendedFrom(...a)),
        listEnded: async (...a) => note(await g.listEnded(...a)),
        listPage: async (...a) => note(await g.listPage(...a)),
      },
    },
  };
};

const rowKey = (
  s: Pick<StreamAccess, 'stream' | 'patientId' | 'type' | 'access' | 'grantId' | 'expiresAt'>,
) => ({
  stream: s.stream,
  patientId: s.patientId,
  type: s.type,
  access: s.access,
  grantId: s.grantId,
  expiresAt: s.expiresAt,
});

const timings: string[] = [];
const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
  const start = performance.now();
  const out = await work();
  timings.push(`${label}: ${(performance.now() - start).toFixed(0)} ms`);
  return out;
};

describe(`a provider following ${PATIENTS} patients`, { timeout: 300_000 }, () => {
  let clinic: Clinic;
  let service: SyncService;
  beforeAll(async () => {
    clinic = await buildClinic();
    service = serviceOn(clinic.store);
  }, 120_000);
  afterAll(async () => {
    if (SHOW_TIMINGS) console.info(`stream-listing-scale timings\n  ${timings.join('\n  ')}`);
    await clinic.store.close();
    await rm(clinic.dir, { recursive: true, force: true });
  });

  /** Every page of a walk from `cursor`, at most `pages` of them. */
  const walk = async (s: SyncService, request: { limit?: number; cursor?: string }, pages = Infinity) => {
    const out: Array<{ streams: StreamAccess[]; next?: string }> = [];
    let cursor = request.cursor;
    while (out.length < pages) {
      const page = await s.listStreamsPage(clinic.provider, {
        ...(request.limit === undefined ? {} : { limit: request.limit }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      out.push(page);
      if (page.next === undefined) break;
      cursor = page.next;
    }
    return out;
  };

  it('walks the whole list in default pages, row for row as deciding from every grant lists it', async () => {
    const pages = await timed('(a) listStreams walk, default pages', () => walk(service, {}));
    const rows = pages.flatMap((p) => p.streams);
    expect(rows.map(rowKey)).toStrictEqual(clinic.reference.map(rowKey));
    expect(rows.every((r) => r.head === 0 && r.epoch === 0)).toBe(true);
    expect(pages.length).toBe(Math.ceil(clinic.reference.length / 10_000));
    timings.push(
      `    (${pages.length} pages, ${rows.length} streams, ${clinic.unended.length} unended grants)`,
    );
    // Each cursor names the page's last stream.
    for (const page of pages.slice(0, -1)) {
      expect(page.next).toBe(encodeCursor({ v: 1, k: 'streams', stream: page.streams.at(-1)!.stream }));
    }
  });

  it('answers small pages from any cursor, forged ones too, as the filtered whole list', async () => {
    const ref = clinic.reference;
    const { id } = clinic.patients[123]!;
    const afters = [
      ref[4_000]!.stream,
      ref[4_005]!.stream,
      `${id}/`,
      id,
      `${id}/a`,
      `${id}/zzz`,
      id.slice(0, 5),
      `${id.slice(0, 5)}~`,
      `${clinic.provider.accountId}/medication`,
      '-',
      '/',
      'é/allergy',
      '\ud800',
      'zzzzzzzz',
    ];
    for (const after of afters) {
      const cursor = encodeCursor({ v: 1, k: 'streams', stream: after });
      const [page] = await walk(service, { limit: 37, cursor }, 1);
      const expected = ref.filter((s) => s.stream > after);
      expect(page!.streams.map(rowKey), after).toStrictEqual(expected.slice(0, 37).map(rowKey));
      expect(page!.next === undefined, after).toBe(expected.length <= 37);
    }
    // Pages that end inside a patient's streams, and continue from there.
    const pages = await walk(service, { limit: 1_001 }, 4);
    expect(pages.flatMap((p) => p.streams).map(rowKey)).toStrictEqual(ref.slice(0, 4_004).map(rowKey));
  });

  it('reads about each grant once in a walk, and a small page only the grants of what it lists', async () => {
    const counting = countingGrants(clinic.store);
    const s = serviceOn(counting.store);
    const [first] = await walk(s, { limit: 100 }, 1);
    expect(first!.streams.length).toBe(100);
    // Eight patients' worth of streams: a few dozen grants at most, not the clinic's 10,000.
    expect(counting.read.length).toBeLessThanOrEqual(200);
    timings.push(`    (grants read for a first page of 100 streams: ${counting.read.length})`);
    counting.read.length = 0;
    const pages = await walk(s, {});
    expect(pages.flatMap((p) => p.streams).length).toBe(clinic.reference.length);
    expect(counting.read.length).toBeLessThanOrEqual(2 * clinic.unended.length);
    timings.push(`    (grants read for a whole walk: ${counting.read.length})`);
  });

  /** Patients whose every grantable type makes up 1,000 streams (the last one's cut short). */
  const GROUPED = Math.ceil(1_000 / GRANTABLE_STREAM_TYPES.length);
  /** 1,000 streams: one per patient (`spread`), or every grantable type of GROUPED patients. */
  const named = (shape: 'spread' | 'grouped'): StreamId[] => {
    const types = GRANTABLE_STREAM_TYPES;
    if (shape === 'spread') {
      return clinic.patients.slice(0, 1_000).map((p, i): StreamId => `${p.id}/${types[i % types.length]!}`);
    }
    return clinic.patients
      .slice(0, GROUPED)
      .flatMap((p) => types.map((type): StreamId => `${p.id}/${type}`))
      .slice(0, 1_000);
  };

  /** What deciding from every unended grant answers for `stream`, its reason completed as a pull does. */
  const expectedDecision = (stream: string, op: Operation) =>
    service.explain(
      clinic.provider,
      stream,
      decideAccess(clinic.provider, stream, op, clinic.unended, NOW),
      NOW,
    );

  for (const shape of ['spread', 'grouped'] as const) {
    it(`pulls 1,000 named streams (${shape}) with the refusals deciding from every grant gives`, async () => {
      const streams: StreamId[] = [...named(shape), `${clinic.provider.accountId}/allergy`];
      const frame = {
        streams: streams.map((stream) => ({ stream, since: 0 })),
        limit: 1000,
        maxBytes: 1 << 22,
      };
      const label =
        shape === 'spread'
          ? '1,000 patients × 1 type'
          : `${GROUPED} patients × ${GRANTABLE_STREAM_TYPES.length} types`;
      const answer = await timed(`(b) pull of 1,000 streams, ${label}`, () =>
        service.pull(clinic.provider, frame),
      );
      const denied: Array<{ stream: string; code: string }> = [];
      const served: string[] = [];
      for (const stream of streams) {
        const d = await expectedDecision(stream, 'pull');
        if (d.ok) served.push(stream);
        else denied.push({ stream, code: d.code });
      }
      expect(answer.denied).toStrictEqual(denied);
      expect(answer.streams.map((s) => s.stream)).toStrictEqual(served);
      expect(answer.docs).toStrictEqual([]);
      // Every kind of refusal is among them, with its code.
      const codeOf = new Map(denied.map((d) => [d.stream, d.code]));
      const seen = new Set<string>();
      const inList = new Set<string>(streams);
      for (const p of clinic.patients.slice(0, GROUPED)) {
        // Checked where both of its streams were named (the last patient's list is cut short).
        if (!inList.has(`${p.id}/allergy`) || !inList.has(`${p.id}/medication`)) continue;
        const allergy = codeOf.get(`${p.id}/allergy`) ?? 'served';
        const medication = codeOf.get(`${p.id}/medication`) ?? 'served';
        if (shape === 'spread') continue;
        seen.add(p.kind);
        const want: Record<Kind, [string, string]> = {
          plain: ['served', 'served'],
          'two-grants': ['served', 'served'],
          revoked: ['CONSENT_REVOKED', 'CONSENT_REVOKED'],
          expired: ['CONSENT_EXPIRED', 'CONSENT_EXPIRED'],
          'not-started': ['NO_CONSENT', 'NO_CONSENT'],
          'other-grantee': ['NO_CONSENT', 'NO_CONSENT'],
          mixed: ['served', 'CONSENT_EXPIRED'],
        };
        expect([allergy, medication], p.kind).toStrictEqual(want[p.kind]);
      }
      if (shape === 'grouped') expect(seen.size).toBe(7);
    });
  }

  it('reads, for a pull or a check, the grants of the patients it names only', async () => {
    const counting = countingGrants(clinic.store);
    const s = serviceOn(counting.store);
    const streams = named('spread').slice(0, 40);
    const patients = new Set(streams.map((stream) => stream.split('/')[0]));
    await s.pull(clinic.provider, {
      streams: streams.map((stream) => ({ stream, since: 0 })),
      limit: 1000,
      maxBytes: 1 << 22,
    });
    expect(counting.read.length).toBeGreaterThan(0);
    expect(
      counting.read.filter((g) => !patients.has(g.patientId) || g.granteeId !== clinic.provider.accountId),
    ).toStrictEqual([]);
    counting.read.length = 0;
    await s.check(clinic.provider, streams[0]!, 'blob-down');
    expect(new Set(counting.read.map((g) => g.patientId))).toStrictEqual(
      new Set([streams[0]!.split('/')[0]]),
    );
  });

  it('decides each named stream and operation as deciding from every grant does, grant and all', async () => {
    const streams = [
      ...named('grouped').slice(0, 300),
      ...clinic.patients.slice(0, 30).map((p) => `${p.id}/audit`),
      `${clinic.provider.accountId}/audit`,
    ];
    for (const op of ['pull', 'push', 'blob-down', 'blob-up'] as const) {
      for (const stream of streams) {
        expect(await service.check(clinic.provider, stream, op), `${op} ${stream}`).toStrictEqual(
          await expectedDecision(stream, op),
        );
      }
    }
  });
});
