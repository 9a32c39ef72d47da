// A provider device's entries kept for a restore of the server (KEPT, audit-log.ts): what they cost a flush
// (the metadata reads and writes of the kept entries, and their size: every save of a record a provider
// makes appends an entry and flushes it, so this is paid per save), and that they are removed when access
// to the patient ends and bounded in total.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { patientKeyName } from './audit-log';
import { auditLogOpener, auditServer, providerAudit, wrappingDirectory } from './audit-log.test-util';

const ed = createNodeEd25519();
const A = 'incarnation-before-0';

/**
 * Device metadata in memory that counts the reads and writes of keys under `prefix`, and their bytes, and
 * the reads of every key (`readsOf`, until `reset`).
 */
const countingMeta = (prefix: string) => {
  const raw = new Map<string, unknown>();
  const counts = { reads: 0, writes: 0, readBytes: 0, writtenBytes: 0 };
  const readKeys: string[] = [];
  /** Reads of the keys `which` matches since the last `reset`. */
  const readsOf = (which: (key: string) => boolean): number => readKeys.filter(which).length;
  /** Prefixes listed (`keys`), in order. */
  const listed: string[] = [];
  const size = (value: unknown): number => (value === undefined ? 0 : JSON.stringify(value).length);
  const meta = createDeviceMeta({
    read: async (key) => {
      readKeys.push(key);
      const value = structuredClone(raw.get(key));
      if (key.startsWith(prefix)) {
        counts.reads++;
        counts.readBytes += size(value);
      }
      return value;
    },
    write: async (key, value) => {
      if (key.startsWith(prefix)) {
        counts.writes++;
        counts.writtenBytes += size(value);
      }
      raw.set(key, structuredClone(value));
    },
    remove: async (keys) => void keys.forEach((k) => raw.delete(k)),
    list: async (p) => {
      listed.push(p);
      return [...raw.keys()].filter((k) => k.startsWith(p));
    },
  });
  const reset = () => {
    Object.assign(counts, { reads: 0, writes: 0, readBytes: 0, writtenBytes: 0 });
    readKeys.length = 0;
  };
  return { meta, counts, reset, readsOf, raw, listed };
};

/** A coalesced entry of 100 changes with long ids: about 20 KB sealed. */
const large = (n: number) => ({
  action: 'records-changed',
  changes: Array.from({ length: 100 }, (_, i) => ({
    action: 'update' as const,
    kind: 'lab-result',
    id: `${n}-${i}-`.padEnd(120, 'x'),
  })),
});

describe("a provider device's kept audit entries, per flush", () => {
  it('cost at most one read and one write of the kept entries, of at most 128 KiB, per save', async () => {
    const provider = deriveAccountKeys(generateRootSecret());
    const patient = deriveAccountKeys(generateRootSecret());
    const device = generateDeviceKeys();
    const server = auditServer();
    const { meta, counts, reset } = countingMeta('audit-kept:');
    const log = auditLogOpener({
      keys: provider,
      device,
      ed,
      now: () => Date.parse('2026-01-01T00:00:00.000Z'),
      connection: server.connection,
      directory: wrappingDirectory([patient]),
      meta,
    })();
    await log.connected(A);
    // Far more acknowledged than is kept.
    for (let n = 1; n <= 40; n++) await log.append(patient.accountId, large(n));
    await log.flush();
    for (let n = 1; n <= 150; n++) await log.append(patient.accountId, { action: `small-${n}` });
    await log.flush();
    for (let n = 41; n <= 60; n++) await log.append(patient.accountId, large(n));
    await log.flush();

    const perSave: Array<typeof counts> = [];
    for (let n = 0; n < 3; n++) {
      reset();
      await log.append(patient.accountId, { action: `save-${n}` });
      await log.flush();
      perSave.push({ ...counts });
    }
    console.log(
      `kept entries per save (reads, writes, bytes read, bytes written): ${JSON.stringify(perSave)}`,
    );
    for (const c of perSave) {
      expect(c.reads).toBeLessThanOrEqual(1);
      expect(c.writes).toBe(1);
      expect(c.readBytes).toBeLessThanOrEqual(140 * 1024);
      expect(c.writtenBytes).toBeLessThanOrEqual(140 * 1024);
    }
    expect(server.positions().length).toBe(213);
  }, 60_000);
});

/** A provider device over counting metadata, appending for `n` patients, on a clock the test moves. */
const providerOf = (n: number) => {
  const { meta, raw, listed, readsOf, reset } = countingMeta('audit-kept:');
  const f = providerAudit({ patients: n, ed, meta });
  const keyOf = (kind: 'audit-chain' | 'audit-kept', patientId: string) =>
    patientKeyName(f.provider.localKey, kind, patientId);
  return {
    ...f,
    raw,
    listed,
    readsOf,
    reset,
    keyOf,
    /** Names of the KEPT keys stored. */
    keptKeys: () => [...raw.keys()].filter((k) => k.startsWith('audit-kept:')),
  };
};

/** A provider device for one patient (`a`), connected to store A. */
const connectedOne = async () => {
  const f = providerOf(1);
  const a = f.patients[0]!.accountId;
  const log = f.open();
  await log.connected(A);
  return { f, a, log };
};

/** The same, with one entry acknowledged (so kept). */
const keptOne = async () => {
  const one = await connectedOne();
  await one.log.append(one.a, { action: 'save' });
  await one.log.flush();
  return one;
};

describe("a provider device's kept audit entries when access to the patient ends", () => {
  it('are removed with the index entry, the chain position staying: a new grant continues the chain', async () => {
    const f = providerOf(2);
    const [a, b] = f.patients.map((p) => p.accountId) as [string, string];
    const log = f.open();
    await log.connected(A);
    for (const patientId of [a, b, a]) await log.append(patientId, { action: 'save' });
    await log.flush();
    expect(f.keptKeys().sort()).toEqual([f.keyOf('audit-kept', a), f.keyOf('audit-kept', b)].sort());

    await log.accessEnded(a);
    expect(f.keptKeys()).toEqual([f.keyOf('audit-kept', b)]);
    expect(Object.keys(f.raw.get('audit-index-kept') as object)).toEqual([f.keyOf('audit-kept', b)]);
    expect(f.raw.has(f.keyOf('audit-chain', a))).toBe(true);
    expect(log.issues()).toEqual([]);

    // Access is back (a new grant): the chain goes on at position 3, and keeping starts again.
    await log.append(a, { action: 'again' });
    await log.flush();
    expect(f.server.positions(`${a}/audit`)).toEqual([1, 2, 3]);
    expect(f.keptKeys()).toHaveLength(2);
    // And ends again: what was kept since goes too.
    await log.accessEnded(a);
    expect(f.keptKeys()).toEqual([f.keyOf('audit-kept', b)]);
  });

  it('is called once per purged stream of the patient (session.ts): a repeat reads nothing', async () => {
    const { f, a, log } = await keptOne();
    f.reset();
    await log.accessEnded(a);
    const first = f.readsOf(() => true);
    expect(first).toBeGreaterThan(0);
    expect(f.keptKeys()).toEqual([]);
    f.reset();
    for (let i = 0; i < 4; i++) await log.accessEnded(a);
    expect(f.readsOf(() => true)).toBe(0);
    expect(log.issues()).toEqual([]);
  });

  it.each([
    ['the outbox cannot be read', 'audit-outbox'],
    ["the patient's verified positions (SEEN) cannot be read", 'audit-seen:'],
  ])('never throws (its caller does not wait for it) when %s: the failure is reported', async (_, which) => {
    const { meta } = countingMeta('audit-kept:');
    let unreadable: string | null = null;
    const failing: DeviceMeta = {
      ...meta,
      get: (key, schema) =>
        unreadable !== null && key.startsWith(unreadable)
          ? Promise.reject(new Error(`${key} could not be read`))
          : meta.get(key, schema),
    };
    const f = providerAudit({ patients: 1, ed, meta: failing });
    const a = f.patients[0]!.accountId;
    const log = f.open();
    await log.connected(A);
    await log.append(a, { action: 'save' });
    unreadable = which;
    await expect(log.accessEnded(a)).resolves.toBeUndefined();
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_KEPT_NOT_REMOVED: /)]);
  });

  it('keeps those still in the outbox: entries sent again after a restore are told apart by them', async () => {
    const { f, a, log } = await connectedOne();
    for (let i = 0; i < 3; i++) await log.append(a, { action: `save-${i}` });
    await log.flush();
    f.server.cut(1);
    f.server.setDecide(() => ({ code: 'NO_CONSENT' }));
    await log.connected('incarnation-after-00');
    await log.append(a, { action: 'refused' });
    await log.flush();
    // Positions 1–3 sent again ahead of 4, all refused.
    expect(await log.pendingCount()).toBe(4);

    await log.accessEnded(a);
    const kept = f.raw.get(f.keyOf('audit-kept', a)) as { rows: Array<{ audit: { authorSeq: number } }> };
    expect(kept.rows.map((r) => r.audit.authorSeq)).toEqual([1, 2, 3]);
  });
});

describe("a provider device's audit metadata read per flush", () => {
  it('reads the outbox once, with the store incarnation known (as after every connection)', async () => {
    const { f, a, log } = await connectedOne();
    for (let n = 0; n < 2; n++) {
      await log.append(a, { action: `save-${n}` });
      f.reset();
      expect(await log.flush()).toBe(1);
      expect(f.readsOf((key) => key === 'audit-outbox')).toBe(1);
    }
  });

  it('reads the kept entries once for a refused chain given up', async () => {
    const { f, a, log } = await keptOne();
    f.server.setDecide(() => ({ code: 'FORBIDDEN' }));
    await log.append(a, { action: 'refused' });
    f.reset();
    await log.flush();
    expect(log.issues()).toEqual([
      expect.stringMatching(/^FORBIDDEN: /),
      expect.stringMatching(/^AUDIT_GIVEN_UP: 1 audit entry/),
    ]);
    expect(f.readsOf((key) => key === f.keyOf('audit-kept', a))).toBe(1);
  });
});

describe("a provider device's kept audit entries in total", () => {
  it('are bounded: past 200 patients, the least recently kept are removed', async () => {
    const f = providerOf(203);
    const ids = f.patients.map((p) => p.accountId);
    const log = f.open();
    await log.connected(A);
    const save = async (patientId: string) => {
      await log.append(patientId, { action: 'save' });
      await log.flush();
      f.advance(1000);
    };
    for (const id of ids.slice(0, 200)) await save(id);
    expect(f.keptKeys()).toHaveLength(200);
    // The first patient again, a day later: now the most recently kept.
    f.advance(24 * 3600_000);
    await save(ids[0]!);
    for (const id of ids.slice(200)) await save(id);

    const keys = f.keptKeys();
    expect(keys).toHaveLength(200);
    for (const gone of ids.slice(1, 4)) expect(keys).not.toContain(f.keyOf('audit-kept', gone));
    for (const kept of [ids[0]!, ids[4]!, ...ids.slice(200)])
      expect(keys).toContain(f.keyOf('audit-kept', kept));
    expect(Object.keys(f.raw.get('audit-index-kept') as object).sort()).toEqual([...keys].sort());
    expect(log.issues()).toEqual([]);
  }, 120_000);
});
