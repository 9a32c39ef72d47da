import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import {
  base64urlDecode,
  base64urlEncode,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  tweetnaclEd25519,
} from '@hale/crypto';
import type { ServedDoc } from '@hale/protocol';
import { makeAuditEntry, openAuditBody, verifyAuditLog, type ChainState } from './audit-chain';

const ed = tweetnaclEd25519;
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
