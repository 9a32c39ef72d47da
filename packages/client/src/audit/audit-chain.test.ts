import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  sealTo,
  signCanonical,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { auditSignaturePayload, type ServedDoc } from '@hale/protocol';
import {
  makeAuditEntry,
  openAuditBody,
  verifyAuditChains,
  verifyAuditLog,
  type ChainState,
} from './audit-chain';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const patient = deriveAccountKeys(generateRootSecret());
const devA = generateDeviceKeys();
const devB = generateDeviceKeys();
const keys = new Map([
  [devA.deviceId, devA.publicKey],
  [devB.deviceId, devB.publicKey],
]);
const authorKey = async (e: ServedDoc) => keys.get(e.author) ?? null;
let clock = Date.parse('2026-01-01T00:00:00.000Z');
const now = () => (clock += 1000);

const chainOf = async (device: typeof devA, n: number, start: ChainState = { seq: 0, hash: null }) => {
  const out = [];
  let chain = start;
  for (let i = 0; i < n; i++) {
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      chain,
      body: {
        kind: 'AuditEntry',
        action: `action-${i}`,
        actorId: patient.accountId,
        actorDeviceId: device.deviceId,
        at: new Date(now()).toISOString(),
      },
      now,
    });
    out.push(made);
    chain = made.chain;
  }
  return out;
};

const served = (docs: Array<{ doc: Omit<ServedDoc, 'seq' | 'at'> }>): ServedDoc[] =>
  docs.map((d, i) => ({ ...d.doc, seq: i + 1, at: new Date(clock).toISOString() }));

const log = async () => {
  const a = await chainOf(devA, 4);
  const b = await chainOf(devB, 3);
  // Interleaved as a server would store them.
  return served([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!]);
};

describe('audit hash chains', () => {
  it('an intact log verifies, and only the patient opens the bodies', async () => {
    const entries = await log();
    const result = await verifyAuditLog(entries, authorKey, ed);
    expect(result).toMatchObject({ ok: true, entries: 7, authors: 2, problems: [] });
    expect(openAuditBody(entries[0]!, patient.wrapping)?.action).toBe('action-0');
    const stranger = nacl.box.keyPair();
    expect(openAuditBody(entries[0]!, stranger)).toBeNull();
  });

  it('detects a modified entry and names it', async () => {
    const entries = await log();
    const ct = base64urlDecode(entries[2]!.ct);
    if (!ct.ok) throw new Error('bad fixture');
    ct.value[10] = ct.value[10]! ^ 1;
    entries[2] = { ...entries[2]!, ct: base64urlEncode(ct.value) };
    const result = await verifyAuditLog(entries, authorKey, ed);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ kind: 'modified', entryId: entries[2].id });
    // A changed header (timestamp) is a modification too.
    const again = await log();
    again[1] = { ...again[1]!, audit: { ...again[1]!.audit!, at: '2020-01-01T00:00:00.000Z' } };
    expect((await verifyAuditLog(again, authorKey, ed)).problems[0]).toMatchObject({
      kind: 'modified',
      entryId: again[1].id,
    });
  });

  it('detects a deleted entry and says which positions are missing', async () => {
    const entries = await log();
    const removed = entries.splice(2, 1)[0]!; // devA position 2
    const result = await verifyAuditLog(entries, authorKey, ed);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ kind: 'deleted', author: removed.author, authorSeq: 3 });
    expect(result.problems[0]!.detail).toContain('position 2');
  });

  it("detects an author's newest entries cut off, against the position it is known to have reached", async () => {
    const entries = await log();
    const last = entries.pop()!; // devA position 4, the end of its chain
    // The served log alone cannot show it.
    expect((await verifyAuditLog(entries, authorKey, ed)).ok).toBe(true);
    const result = await verifyAuditLog(entries, authorKey, ed, new Map([[devA.deviceId, 4]]));
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: last.author,
        authorSeq: 4,
        entryId: entries[4]!.id,
      }),
    ]);
    expect(result.problems[0]!.detail).toContain('position 4');
    // Every entry of an author cut off: nothing served to name, several positions missing.
    const none = entries.filter((e) => e.author !== devB.deviceId);
    const gone = await verifyAuditLog(none, authorKey, ed, new Map([[devB.deviceId, 3]]));
    expect(gone.problems).toEqual([
      expect.objectContaining({ kind: 'deleted', author: devB.deviceId, authorSeq: 1, entryId: '' }),
    ]);
    expect(gone.problems[0]!.detail).toContain('positions 1–3');
    // A chain that reaches (or passes) the known position is complete.
    const whole = await log();
    expect((await verifyAuditLog(whole, authorKey, ed, new Map([[devA.deviceId, 4]]))).ok).toBe(true);
    expect((await verifyAuditLog(whole, authorKey, ed, new Map([[devA.deviceId, 3]]))).ok).toBe(true);
  });

  it('detects a chain rewritten from a known position (rolled back, grown again); its head stops before it', async () => {
    const a = await chainOf(devA, 3);
    const whole = await verifyAuditChains(served(a), authorKey, ed);
    expect(whole.heads.get(devA.deviceId)).toEqual({ seq: 3, hash: a[2]!.chain.hash });
    const known = new Map([[devA.deviceId, { seq: 3, hash: a[2]!.chain.hash! }]]);
    // Positions 2 on are other entries, linked as any chain is: the served log alone shows nothing.
    const rewritten = await chainOf(devA, 3, a[0]!.chain);
    const forked = served([a[0]!, ...rewritten]);
    expect((await verifyAuditLog(forked, authorKey, ed)).ok).toBe(true);
    const result = await verifyAuditChains(forked, authorKey, ed, known);
    expect(result.verification.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: devA.deviceId,
        authorSeq: 3,
        entryId: rewritten[1]!.doc.id,
      }),
    ]);
    expect(result.heads.get(devA.deviceId)).toEqual({ seq: 2, hash: rewritten[0]!.chain.hash });
    // The very entry at the known position: nothing to report, the head goes on.
    const grown = [...a, ...(await chainOf(devA, 1, a[2]!.chain))];
    const ok = await verifyAuditChains(served(grown), authorKey, ed, known);
    expect(ok.verification.ok).toBe(true);
    expect(ok.heads.get(devA.deviceId)?.seq).toBe(4);
  });

  it('reports an entry whose author cannot be looked up now as unverified, and does not call its position missing', async () => {
    const a = await chainOf(devA, 4);
    const entries = served(a);
    const unasked = new Set([entries[1]!.id, entries[3]!.id]);
    const lookup = async (e: ServedDoc) =>
      unasked.has(e.id) ? { unavailable: 'HTTP 503' } : (keys.get(e.author) ?? null);
    const result = await verifyAuditChains(entries, lookup, ed, new Map([[devA.deviceId, 4]]));
    expect(result.verification.problems.map((p) => [p.kind, p.authorSeq])).toEqual([
      ['unverified', 2],
      ['unverified', 4],
    ]);
    // Not verified, so not remembered as reached.
    expect(result.heads.get(devA.deviceId)?.seq).toBe(1);
  });

  it('detects reordered entries', async () => {
    const entries = await log();
    [entries[2], entries[4]] = [entries[4]!, entries[2]!]; // devA positions 2 and 3 swapped
    const result = await verifyAuditLog(entries, authorKey, ed);
    expect(result.problems.map((p) => p.kind)).toEqual(['reordered']);
    expect(result.problems[0]).toMatchObject({ author: devA.deviceId, authorSeq: 2 });
  });

  it('detects inserted entries: a forked twin, an unlinked entry, an unknown author', async () => {
    const a = await chainOf(devA, 3);
    // A second entry 2 forked from entry 1 (e.g. a replayed or re-signed branch).
    const fork = await chainOf(devA, 1, a[0]!.chain);
    let result = await verifyAuditLog(served([a[0]!, a[1]!, fork[0]!, a[2]!]), authorKey, ed);
    expect(result.problems.map((p) => p.kind)).toEqual(['inserted']);
    expect(result.problems[0]!.entryId).toBe(fork[0]!.doc.id);
    // An entry that claims the next position but does not link to its predecessor.
    const unlinked = await chainOf(devA, 1, { seq: 3, hash: 'not-the-real-hash' });
    result = await verifyAuditLog(served([...a, unlinked[0]!]), authorKey, ed);
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'inserted', entryId: unlinked[0]!.doc.id }),
    ]);
    // An author nobody certified.
    const rogue = generateDeviceKeys();
    const foreign = await chainOf(rogue, 1);
    result = await verifyAuditLog(served([...a, foreign[0]!]), authorKey, ed);
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'inserted', entryId: foreign[0]!.doc.id }),
    ]);
  });
});

describe('audit chains verified past a base verified before', () => {
  /**
   * `log` verified whole, and its entries after the first `at` verified against the heads of those
   * (a base that verified with no problem): the same heads, and the same problems' kinds and positions.
   */
  const both = async (
    log: ServedDoc[],
    at: number,
    reached = new Map<string, { seq: number; hash?: string }>(),
  ) => {
    const whole = await verifyAuditChains(log, authorKey, ed, reached);
    const first = await verifyAuditChains(log.slice(0, at), authorKey, ed);
    expect(first.verification.ok).toBe(true);
    const past = await verifyAuditChains(log.slice(at), authorKey, ed, reached, first.heads);
    const kinds = (v: typeof whole) => v.verification.problems.map((p) => [p.kind, p.author, p.authorSeq]);
    return {
      whole,
      past,
      same: () => expect([kinds(past), past.heads]).toEqual([kinds(whole), whole.heads]),
    };
  };

  it('answers what the whole log gets, for a whole log and for problems served after the base', async () => {
    const a = await chainOf(devA, 5);
    const b = await chainOf(devB, 3);
    const log = served([a[0]!, b[0]!, a[1]!, a[2]!, b[1]!, a[3]!, b[2]!, a[4]!]);
    const clean = await both(log, 4);
    clean.same();
    expect(clean.past.verification.ok).toBe(true);
    expect(clean.past.verification.authors).toBe(2);

    // A gap just past the base, and one further on.
    (await both(served([a[0]!, a[1]!, a[3]!, a[4]!]), 2)).same();
    (await both(served([a[0]!, a[1]!, a[2]!, a[4]!]), 2)).same();
    // Not linked to the base head.
    const unlinked = await chainOf(devA, 1, { seq: 2, hash: 'not-the-real-hash' });
    (await both(served([a[0]!, a[1]!, unlinked[0]!]), 2)).same();
    // A reached position past the base, cut off; and one rewritten past the base.
    const reached = new Map([[devA.deviceId, { seq: 4, hash: a[3]!.chain.hash! }]]);
    (await both(served([a[0]!, a[1]!, a[2]!]), 2, reached)).same();
    const fork = await chainOf(devA, 2, a[2]!.chain);
    (await both(served([a[0]!, a[1]!, a[2]!, ...fork]), 2, reached)).same();
  });

  it('a second entry at a position of the base is inserted, and the head stops before it', async () => {
    const a = await chainOf(devA, 3);
    const fork = await chainOf(devA, 1, a[0]!.chain);
    const { whole, past } = await both(served([a[0]!, a[1]!, a[2]!, fork[0]!]), 3);
    expect(past.verification.problems.map((p) => [p.kind, p.entryId])).toEqual([
      ['inserted', fork[0]!.doc.id],
    ]);
    expect(whole.verification.problems.map((p) => [p.kind, p.entryId])).toEqual([
      ['inserted', fork[0]!.doc.id],
    ]);
    // Whole, the head stops at 1; past a base, its link there is not known: no head (nothing to remember).
    expect(whole.heads.get(devA.deviceId)?.seq).toBe(1);
    expect(past.heads.has(devA.deviceId)).toBe(false);
  });
});

describe('opening audit bodies: only what the AuditBody schema describes', () => {
  const sealed = (body: unknown) => ({
    ct: base64urlEncode(sealTo(patient.wrapping.publicKey, canonicalBytes(body))),
  });
  const actor = { actorId: patient.accountId, actorDeviceId: devA.deviceId, at: '2026-01-01T00:00:00.000Z' };
  const stream = `${patient.accountId}/allergy`;
  // The shapes the writers built before the schema existed (session.ts, consent.ts, audit-log.ts and the
  // server's access events), field for field.
  const entry = (action: string, detail: Record<string, unknown>) => ({
    action,
    summary: action,
    ...detail,
    kind: 'AuditEntry',
    ...actor,
  });
  const wellFormed: Record<string, unknown>[] = [
    {
      ...entry('records-changed', {
        changes: [
          { action: 'create', kind: 'Allergy', id: '01JGZ0000000000000000000AB' },
          { action: 'delete', kind: 'Medication', id: '01JGZ0000000000000000000AC' },
        ],
      }),
      summary: '2 record change(s)',
    },
    entry('purge', { stream, reason: 'revoked', count: 0 }),
    entry('consent-grant', {
      grantId: '01JGZ0000000000000000000AD',
      granteeId: devB.deviceId,
      scope: [{ type: 'allergy', access: 'read' }],
      expiresAt: '2026-02-01T00:00:00.000Z',
      purpose: 'pre-operative assessment',
    }),
    entry('consent-revoke', { grantId: '01JGZ0000000000000000000AD', granteeId: devB.deviceId }),
    entry('key-rotation', { stream, epoch: 2, holders: 1 }),
    entry('device-sign-in', { deviceId: devA.deviceId }),
    entry('export', { patientId: patient.accountId, count: 12 }),
    // An app's own action (`session.audit.append`), with no detail at all.
    { kind: 'AuditEntry', action: 'record-viewed', ...actor },
    // A deletion names its blob (kept, not dropped as an unknown field).
    {
      kind: 'AccessEvent',
      action: 'blob-delete',
      ...actor,
      stream,
      count: 1,
      blobId: '01JGZ0000000000000000000BB',
    },
    ...(['pull', 'push', 'live', 'key-fetch', 'blob-down', 'blob-up'] as const).map((action) => ({
      kind: 'AccessEvent',
      action,
      ...actor,
      stream,
      count: 3,
    })),
  ];

  it('opens a well-formed body of every action, as it was written', () => {
    for (const body of wellFormed) expect(openAuditBody(sealed(body), patient.wrapping)).toEqual(body);
  });

  const grant = wellFormed[2]!;
  const access = wellFormed.at(-1)!;
  const without = (body: Record<string, unknown>, key: string) =>
    Object.fromEntries(Object.entries(body).filter(([k]) => k !== key));
  // A newer build may add fields and server actions: its entries open here without what this build
  // does not know, instead of reading as forged.
  const newer: Array<[string, unknown, unknown]> = [
    ['an extra field', { ...grant, injected: 'x' }, grant],
    [
      'an extra field in a record change',
      { ...wellFormed[0]!, changes: [{ action: 'create', kind: 'A', id: 'b', x: 1 }] },
      { ...wellFormed[0]!, changes: [{ action: 'create', kind: 'A', id: 'b' }] },
    ],
    ['an extra field in an access event', { ...access, summary: 'pull' }, access],
    [
      'a __proto__ member',
      JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(grant).slice(1)}`),
      grant,
    ],
    [
      'a server action this build does not know',
      { ...access, action: 'blob-archive' },
      { ...access, action: 'blob-archive' },
    ],
  ];

  it.each(newer)('opens a body with %s, keeping only what this build knows', (_why, body, opened) => {
    const got = openAuditBody(sealed(body), patient.wrapping);
    expect(got).toEqual(opened);
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  // A newer build may use values this build does not know: a detail field that does not match is
  // dropped, the entry opens (its frame must match).
  const lenient: Array<[string, unknown, unknown]> = [
    ['a scope entry of the wrong type', { ...grant, scope: ['allergy'] }, without(grant, 'scope')],
    ['an oversize summary', { ...grant, summary: 'x'.repeat(501) }, without(grant, 'summary')],
    ['an oversize purpose', { ...grant, purpose: 'x'.repeat(501) }, without(grant, 'purpose')],
    ['a free-text reason', { ...grant, reason: 'pre-operative assessment' }, grant],
    // A newer server's detail in an access event: the access is kept (its frame matches), the detail not.
    ['a blob id this build refuses', { ...access, blobId: 'not/a record id' }, access],
    [
      'too many record changes',
      { ...wellFormed[0]!, changes: Array(501).fill({ action: 'create', kind: 'A', id: 'b' }) },
      without(wellFormed[0]!, 'changes'),
    ],
  ];

  it.each(lenient)('opens a body with %s, without that detail', (_why, body, opened) => {
    expect(openAuditBody(sealed(body), patient.wrapping)).toEqual(opened);
  });

  const refused: Array<[string, unknown]> = [
    ['a count of the wrong type', { ...access, count: '3' }],
    ['a fractional count', { ...access, count: 1.5 }],
    ['an actor id of the wrong type', { ...grant, actorId: 42 }],
    ['an unknown kind', { ...grant, kind: 'Other' }],
    ['an empty server action', { ...access, action: '' }],
    ['a missing actor', without(grant, 'actorId')],
    ['a missing time', without(grant, 'at')],
    ['a missing action', without(grant, 'action')],
    ['an access event without its count', without(access, 'count')],
    ['an oversize action name', { ...grant, action: 'x'.repeat(65) }],
    ['no object', ['consent-grant']],
  ];

  it.each(refused)('refuses a body with %s', (_why, body) => {
    expect(openAuditBody(sealed(body), patient.wrapping)).toBeNull();
  });
});

describe('audit entries of a revoked device', () => {
  it("count only when signed before the revocation; a later one is inserted, a forged one's time buys nothing", async () => {
    const entries = served(await chainOf(devB, 3));
    const times = entries.map((e) => e.audit!.at);
    // Revoked between its second and third entry.
    const revokedAt = new Date((Date.parse(times[1]!) + Date.parse(times[2]!)) / 2).toISOString();
    const revoked = async (e: ServedDoc) =>
      e.author === devB.deviceId ? { key: devB.publicKey, revokedAt } : null;
    const result = await verifyAuditLog(entries, revoked, ed);
    expect(result.problems.map((p) => [p.authorSeq, p.kind, p.detail])).toEqual([
      [3, 'inserted', `signed by ${devB.deviceId} at ${times[2]}, not before its revocation at ${revokedAt}`],
    ]);
    // Revoked at the very time of the entry: not before it.
    const atOnce = async () => ({ key: devB.publicKey, revokedAt: times[0]! });
    expect((await verifyAuditLog(entries.slice(0, 1), atOnce, ed)).problems.map((p) => p.kind)).toEqual([
      'inserted',
    ]);
    // The third entry re-dated before the revocation: its signature no longer matches.
    const redated = { ...entries[2]!, audit: { ...entries[2]!.audit!, at: times[1]! } };
    const forged = await verifyAuditLog([...entries.slice(0, 2), redated], revoked, ed);
    expect(forged.problems.map((p) => [p.authorSeq, p.kind])).toEqual([[3, 'modified']]);
  });

  // The model takes instants with any offset and 1–9 fraction digits; Date.parse keeps only the
  // millisecond, so an entry and a revocation within one millisecond would tie, and the entry made
  // before the revocation be refused.
  it('orders the signed time and the revocation exactly: within one millisecond, and across offsets', async () => {
    const signedAt = async (at: string): Promise<ServedDoc> => {
      const [first] = served(await chainOf(devB, 1));
      const doc = { ...first!, audit: { ...first!.audit!, at } };
      const payload = auditSignaturePayload(doc);
      const sig = await signCanonical(ed, devB.secretKey, payload.label, payload);
      return { ...doc, sig: base64urlEncode(sig) };
    };
    const kinds = async (at: string, revokedAt: string) =>
      (
        await verifyAuditLog([await signedAt(at)], async () => ({ key: devB.publicKey, revokedAt }), ed)
      ).problems.map((p) => p.kind);
    // 100 µs before the revocation, within its millisecond: counts.
    expect(await kinds('2026-01-01T00:00:01.0001Z', '2026-01-01T00:00:01.000200Z')).toEqual([]);
    // One nanosecond before, the entry written at +02:00: counts.
    expect(await kinds('2026-01-01T02:00:01.000000001+02:00', '2026-01-01T00:00:01.000000002Z')).toEqual([]);
    // After the revocation within its millisecond, or at the same instant written another way: not before it.
    expect(await kinds('2026-01-01T00:00:01.0002Z', '2026-01-01T00:00:01.0001Z')).toEqual(['inserted']);
    expect(await kinds('2026-01-01T02:00:01.0001+02:00', '2026-01-01T00:00:01.000100000Z')).toEqual([
      'inserted',
    ]);
    // A revocation time that names no instant lets nothing through.
    expect(await kinds('2026-01-01T00:00:01.000Z', 'soon')).toEqual(['inserted']);
  });
});
