// The views (whoAccessed, disclosures, entries) read only what the server served since the entries this
// device verified before (the view cache), and answer what a read of the whole log would. What the server
// changes in the part already read (an entry rewritten in place, a chain cut, a restore) is reported by
// verify() at once, by the views at the next whole check: at once when a restore was announced or what
// was served since does not verify against the cached heads, else within a day or 25 views.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta } from './audit-log.test-util';
import type { AuditLogDeps } from './audit-log';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const DAY = 24 * 3600_000;

/**
 * A patient device reading its log from a scripted server that serves, after a pull's `since`, what
 * `served` holds past it (positions are never reused, as on the real server); the server can rewrite an
 * entry in place, cut a chain, or go on after a cut. `served` counts the entries each pull carried.
 */
const viewSetup = (given?: DeviceMeta) => {
  const patient = deriveAccountKeys(generateRootSecret());
  const provider = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const other = generateDeviceKeys();
  const server = generateDeviceKeys();
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const now = () => clock;
  const served: ServedDoc[] = [];
  let nextSeq = 1;
  const carried: number[] = [];
  const sinces: number[] = [];
  const states = new Map<string, ChainState[]>();
  const sign = async (author: typeof server, body: unknown, chain: ChainState) =>
    makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: author.deviceId, secretKey: author.secretKey },
      ed,
      chain,
      body: body as AuditBody,
      now,
    });
  const add = async (author: typeof server, body: unknown): Promise<ServedDoc> => {
    const chain = states.get(author.deviceId) ?? [{ seq: 0, hash: null }];
    const made = await sign(author, body, chain.at(-1)!);
    states.set(author.deviceId, [...chain, made.chain]);
    const doc: ServedDoc = { ...made.doc, seq: nextSeq++, at: new Date(clock).toISOString() };
    served.push(doc);
    return doc;
  };
  const access = (count = 2) => ({
    kind: 'AccessEvent',
    action: 'pull',
    actorId: provider.accountId,
    actorDeviceId: generateDeviceKeys().deviceId,
    stream: `${patient.accountId}/allergy`,
    count,
    at: new Date(clock).toISOString(),
  });
  const entry = (action: string) => ({
    kind: 'AuditEntry',
    action,
    actorId: patient.accountId,
    actorDeviceId: other.deviceId,
    at: new Date(clock).toISOString(),
  });
  /** The server signs another access event at `doc`'s position, served in its place (same seq). */
  const rewrite = async (doc: ServedDoc, count: number): Promise<void> => {
    const chain = states.get(doc.author)!;
    const made = await sign(server, access(count), chain[doc.audit!.authorSeq - 1]!);
    served[served.indexOf(doc)] = { ...made.doc, seq: doc.seq, at: doc.at };
  };
  /** `author`'s entries past `position` are no longer served; its chain goes on from there. */
  const cut = (author: typeof server, position: number): void => {
    const keep = served.filter((d) => d.author !== author.deviceId || d.audit!.authorSeq <= position);
    served.splice(0, served.length, ...keep);
    states.set(author.deviceId, states.get(author.deviceId)!.slice(0, position + 1));
  };
  const connection = {
    status: () => 'ready' as const,
    request: async (frame: PullFrame) => {
      const since = frame.streams[0]!.since;
      sinces.push(since);
      const docs = served.filter((d) => d.seq > since).slice(0, frame.limit);
      carried.push(docs.length);
      const last = docs.at(-1)?.seq ?? since;
      const done = served.every((d) => d.seq <= last);
      return {
        t: 'pulled',
        rid: 1,
        docs,
        streams: [
          { stream: frame.streams[0]!.stream, checkpoint: done ? Math.max(last, nextSeq - 1) : last, done },
        ],
        denied: [],
      };
    },
  } as unknown as Connection;
  const directory = {
    authorKey: async (accountId: string, deviceId: string) => {
      if (accountId !== patient.accountId) return null;
      if (deviceId === other.deviceId) return { key: other.publicKey };
      return deviceId === own.deviceId ? { key: own.publicKey } : null;
    },
  } as unknown as DeviceDirectory;
  const meta = given ?? memoryMeta().meta;
  const locked = { now: false };
  const base = {
    keys: patient,
    device: own,
    ed,
    now,
    connection,
    directory,
    meta,
    serverKey: async () => ({ serverId: server.deviceId, publicKey: server.publicKey }),
    assertUnlocked: () => {
      if (locked.now) throw new Error('LOCKED');
    },
  };
  /** A session of the device (a second one: restarted), over the same device meta. */
  const open = (extra: Partial<AuditLogDeps> = {}) => auditLogOpener(base)(extra);
  /** A device that never read the log: what a whole read answers. */
  const whole = () => auditLogOpener({ ...base, meta: memoryMeta().meta })().entries();
  /** Entries the pulls since the last call carried. */
  const read = (): number => {
    sinces.splice(0);
    return carried.splice(0).reduce((n, k) => n + k, 0);
  };
  /** The positions the pulls since the last `read` started from. */
  const pulledFrom = (): number[] => [...sinces];
  return {
    pulledFrom,
    server,
    other,
    served,
    add,
    access,
    entry,
    rewrite,
    cut,
    open,
    whole,
    read,
    meta,
    locked,
    advance: (ms: number) => void (clock += ms),
  };
};

const problemsOf = (v: { problems: Array<{ kind: string; author: string; authorSeq: number }> }) =>
  v.problems.map((p) => [p.kind, p.author, p.authorSeq]);

/** A log of `n` entries, the server's access events and the other device's, alternating. */
const fill = async (s: ReturnType<typeof viewSetup>, n: number): Promise<void> => {
  for (let i = 0; i < n; i++)
    await (i % 2 === 0 ? s.add(s.server, s.access(1 + i)) : s.add(s.other, s.entry('export')));
};

describe('audit views past the view cache', () => {
  it('read only what was served since, and answer as a read of the whole log does', async () => {
    const s = viewSetup();
    await fill(s, 40);
    const log = s.open();
    expect(await log.whoAccessed()).toHaveLength(20);
    expect(s.read()).toBe(40);
    expect(await log.whoAccessed()).toHaveLength(20);
    expect(s.read()).toBe(0);

    await s.add(s.server, s.access(7));
    await s.add(s.other, s.entry('export'));
    const who = await log.whoAccessed();
    expect(s.read()).toBe(2);
    expect(who).toHaveLength(21);
    expect(who.at(-1)).toEqual(expect.objectContaining({ source: 'server', count: 7 }));
    expect(await log.entries()).toEqual(await s.whole());
    // Across a restart of the device too.
    s.read();
    expect(await s.open().entries()).toEqual(await s.whole());
    expect(s.read()).toBe(42);
    expect(log.issues()).toEqual([]);
    expect((await log.verify()).ok).toBe(true);
  });

  it('an entry served since that does not link to the cached head is reported as a whole read reports it', async () => {
    const s = viewSetup();
    await fill(s, 10);
    const log = s.open();
    await log.whoAccessed();
    // The server's chain rolled back to position 3 and grown again (no restore announced).
    s.cut(s.server, 3);
    await s.add(s.server, s.access(99));
    s.read();
    const who = await log.whoAccessed();
    // A problem past the cache: the whole log was read again, and checked as always.
    expect(s.read()).toBeGreaterThan(1);
    expect(who.map((a) => a.count)).toEqual([1, 3, 5, 99]);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 1/)]);
    expect(problemsOf(await log.verify())).toEqual([['deleted', s.server.deviceId, 5]]);
  });

  it('an entry rewritten in place after this device cached it: verify reports it, and the views from then on', async () => {
    const s = viewSetup();
    await fill(s, 10);
    const target = s.served[2]!;
    const log = s.open();
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([1, 3, 5, 7, 9]);
    await s.rewrite(target, 0);
    // Not read again: the cached entry is listed (see the header: a whole check reports it).
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([1, 3, 5, 7, 9]);
    expect(s.read()).toBe(10);

    const v = await log.verify();
    expect(problemsOf(v)).toEqual([['inserted', s.server.deviceId, 3]]);
    expect(await log.whoAccessed()).not.toContainEqual(expect.objectContaining({ count: 5 }));
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/)]);
    // Read whole at every view while the problem stands.
    s.read();
    await log.whoAccessed();
    expect(s.read()).toBe(10);
  });

  it('a chain cut after this device cached it: reported by the views at the next whole check (a day later)', async () => {
    const s = viewSetup();
    await fill(s, 10);
    const log = s.open();
    expect(await log.whoAccessed()).toHaveLength(5);
    s.cut(s.server, 3);
    s.cut(s.other, 4);
    expect(await log.whoAccessed()).toHaveLength(5);
    expect(log.issues()).toEqual([]);

    s.advance(DAY);
    expect(await log.whoAccessed()).toHaveLength(3);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 2/)]);
    // Remembered: a restarted device reports it at its first view.
    const again = s.open();
    await again.disclosures();
    expect(again.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 2/)]);
  });

  it('a chain cut after this device cached it: reported at the 25th view of a session after a whole check at the latest', async () => {
    const s = viewSetup();
    await fill(s, 6);
    const log = s.open();
    await log.whoAccessed();
    s.cut(s.server, 1);
    let views = 1;
    while (log.issues().length === 0 && views < 100) {
      await log.whoAccessed();
      views++;
    }
    // The first view read the log whole; the 25th after it does again.
    expect(views).toBe(26);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 1/)]);
  });

  it('a restore announced after this device cached the log: the next view reads it whole and names the restore', async () => {
    const s = viewSetup();
    await s.meta.set('incarnation', { recorded: 'incarnation-before-0' });
    await fill(s, 10);
    const log = s.open();
    await log.whoAccessed();
    s.cut(s.server, 2);
    await s.add(s.server, s.access(42));
    s.cut(s.other, 1);
    await s.meta.set('incarnation', { recorded: 'incarnation-after-00' });
    s.read();
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([1, 3, 42]);
    expect(s.read()).toBe(4);
    const v = await log.verify();
    expect(problemsOf(v)).toEqual([
      ['deleted', s.server.deviceId, 4],
      ['deleted', s.other.deviceId, 2],
    ]);
    expect(v.problems.every((p) => p.detail.includes('restore of its store'))).toBe(true);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 2/)]);
    // Accepted: the cache is kept again from that check, and the views read only what is new.
    expect((await log.acceptLosses()).ok).toBe(true);
    s.read();
    await s.add(s.server, s.access(43));
    expect((await log.whoAccessed()).map((a) => a.count)).toEqual([1, 3, 42, 43]);
    expect(s.read()).toBe(1);
  });

  it('past its budget, keeps the newest entries and reads the older ones again, held to the heads it verified', async () => {
    const s = viewSetup();
    await fill(s, 12);
    const log = s.open({ viewCache: { maxEntries: 5, maxChars: 1 << 20 } });
    const first = await log.entries();
    s.read();
    expect(await log.entries()).toEqual(first);
    // The older entries read again (a page from the start), then what is past the cache (nothing).
    expect(s.pulledFrom()).toEqual([0, 12]);
    await s.add(s.other, s.entry('export'));
    expect(await log.entries()).toEqual(await s.whole());

    // An older entry rewritten in place: what is read again no longer ends at the heads verified.
    await s.rewrite(s.served[0]!, 100);
    s.read();
    expect((await log.whoAccessed())[0]).toEqual(expect.objectContaining({ count: 100 }));
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/)]);
  });

  it('refuses once the account is locked, the cache as the server', async () => {
    const s = viewSetup();
    await fill(s, 4);
    const log = s.open();
    await log.whoAccessed();
    s.locked.now = true;
    await expect(log.whoAccessed()).rejects.toThrow('LOCKED');
    await expect(log.disclosures()).rejects.toThrow('LOCKED');
  });
});

/**
 * Device metadata in a map that removes and lists keys as the device's store does, counting the characters
 * written (as JSON) since the last `written()`.
 */
const countingMeta = () => {
  const raw = new Map<string, unknown>();
  let chars = 0;
  let failNext: string | null = null;
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      if (failNext === key) {
        failNext = null;
        throw new Error(`write of ${key} lost`);
      }
      chars += JSON.stringify(value ?? null).length;
      raw.set(key, structuredClone(value));
    },
    remove: async (keys) => {
      for (const key of keys) raw.delete(key);
    },
    list: async (prefix) => [...raw.keys()].filter((key) => key.startsWith(prefix)),
  });
  const written = (): number => {
    const n = chars;
    chars = 0;
    return n;
  };
  /** VIEW as stored, and the parts the store holds (named by it or not). */
  const stored = () => {
    const view = raw.get('audit-view') as {
      through: number;
      entries: Array<{ seq: number }>;
      parts?: Array<{ key: string; entries: number }>;
    };
    const parts = [...raw.keys()].filter((key) => key.startsWith('audit-view-part/'));
    return { view, named: (view.parts ?? []).map((p) => p.key).sort(), parts: parts.sort() };
  };
  return {
    meta,
    raw,
    written,
    stored,
    /** The next write of `key` fails (a crash before it, as far as what is stored goes). */
    failNextWrite: (key: string) => void (failNext = key),
  };
};

/** A small shape for the view cache, so that a few entries fill parts: see AuditLogDeps.viewCache. */
const SMALL = { maxEntries: 20_000, maxChars: 1 << 23, tailEntries: 4, partEntries: 8 };

describe('the view cache written as entries arrive', () => {
  it('a view that finds a few new entries writes about what is new, not the whole cache again', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 300);
    const log = s.open();
    expect(await log.whoAccessed()).toHaveLength(150);
    const first = m.written();
    const perView: number[] = [];
    for (let i = 0; i < 3; i++) {
      await s.add(s.server, s.access(7));
      await s.add(s.other, s.entry('export'));
      m.written();
      expect(await log.whoAccessed()).toHaveLength(151 + i);
      perView.push(m.written());
    }
    for (const chars of perView) expect(chars).toBeLessThan(first / 20);
    const whole = await s.whole();
    expect(await log.entries()).toEqual(whole);
    // A restart reads the cache as written: nothing read again.
    s.read();
    expect(await s.open().entries()).toEqual(whole);
    expect(s.read()).toBe(0);
  });
});

describe('the view cache kept in parts', () => {
  it('as entries keep arriving, VIEW holds the newest few, the parts stay few, and none is left behind', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 20);
    const shape = { ...SMALL, maxParts: 4 };
    const log = s.open({ viewCache: shape });
    await log.whoAccessed();
    const shapes: Array<[number, number]> = [];
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i <= round % 3; i++) {
        await (i % 2 === 0 ? s.add(s.server, s.access(round)) : s.add(s.other, s.entry('export')));
      }
      s.read();
      await log.whoAccessed();
      // Only what is new was read (past the cache).
      expect(s.read()).toBe(1 + (round % 3));
      const { view, named, parts } = m.stored();
      shapes.push([view.entries.length, named.length]);
      expect(parts).toEqual(named);
    }
    for (const [tail, parts] of shapes) {
      expect(tail).toBeLessThanOrEqual(4);
      expect(parts).toBeLessThanOrEqual(4);
    }
    // Parts were sealed and merged on the way (not one part per view, nor VIEW holding every entry).
    expect(new Set(shapes.map(([, parts]) => parts)).size).toBeGreaterThan(1);
    const whole = await s.whole();
    s.read();
    expect(await log.entries()).toEqual(whole);
    expect(await s.open({ viewCache: shape }).entries()).toEqual(whole);
    expect(s.read()).toBe(0);
    expect(log.issues()).toEqual([]);
  });

  it('past its budget, whole parts go to the entries read again, held to the heads they were verified to', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 30);
    const log = s.open({ viewCache: { ...SMALL, maxEntries: 12 } });
    const first = await log.entries();
    for (let i = 0; i < 5; i++) await s.add(s.other, s.entry('export'));
    s.read();
    expect(await log.entries()).toEqual(await s.whole());
    expect(first).toHaveLength(30);
    const { view, named, parts } = m.stored();
    expect(parts).toEqual(named);
    const cached = view.entries.length + (view.parts ?? []).reduce((n, p) => n + p.entries, 0);
    expect(cached).toBeLessThanOrEqual(12);
    expect(cached).toBeGreaterThan(0);
    // What was dropped is read again and held to the heads it was verified to: a rewrite there is found.
    await s.rewrite(s.served[0]!, 100);
    expect((await log.whoAccessed())[0]).toEqual(expect.objectContaining({ count: 100 }));
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*inserted: 1/)]);
  });

  it('a part missing or holding another part: the cache is not used, the log is read whole, and answered as before', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 24);
    const log = s.open({ viewCache: SMALL });
    await log.whoAccessed();
    const whole = await s.whole();
    const before = m.stored().named;
    expect(before.length).toBeGreaterThan(1);

    // Another part's content under a part's name (each alone as it was written).
    m.raw.set(before[0]!, structuredClone(m.raw.get(before[1]!)));
    s.read();
    expect(await log.entries()).toEqual(whole);
    expect(s.read()).toBe(24);
    // Kept anew from that whole read, in new parts; the old ones removed.
    const anew = m.stored();
    expect(anew.parts).toEqual(anew.named);
    expect(anew.named.some((key) => before.includes(key))).toBe(false);

    // A part gone (VIEW rolled back to one naming a part removed since, a removal cut short).
    m.raw.delete(anew.named[1]!);
    s.read();
    expect(await log.entries()).toEqual(whole);
    expect(s.read()).toBe(24);
    expect(log.issues()).toEqual([]);
    s.read();
    expect(await log.entries()).toEqual(whole);
    expect(s.read()).toBe(0);
  });

  it('an older VIEW whose parts are all there (a rollback of the whole store): read past, as that older cache', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 24);
    const log = s.open({ viewCache: SMALL });
    await log.whoAccessed();
    const older = structuredClone(m.raw.get('audit-view'));
    const olderParts = m.stored().named.map((key) => [key, structuredClone(m.raw.get(key))] as const);
    for (let i = 0; i < 7; i++) await s.add(s.server, s.access(50 + i));
    await log.whoAccessed();
    m.raw.set('audit-view', older);
    for (const [key, value] of olderParts) m.raw.set(key, value);
    s.read();
    const again = s.open({ viewCache: SMALL });
    expect(await again.entries()).toEqual(await s.whole());
    // Read past the older cache: 7 entries, and 31 for the whole read compared with.
    expect(s.read()).toBe(7 + 31);
    expect(again.issues()).toEqual([]);
  });

  it('a write cut short after new parts, before VIEW: the cache VIEW names is used, the parts left removed later', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 16);
    const log = s.open({ viewCache: SMALL });
    await log.whoAccessed();
    for (let i = 0; i < 6; i++) await s.add(s.server, s.access(60 + i));
    m.failNextWrite('audit-view');
    await log.whoAccessed();
    const cut = m.stored();
    expect(cut.view.through).toBe(16);
    expect(cut.parts.length).toBeGreaterThan(cut.named.length);
    s.read();
    expect(await log.entries()).toEqual(await s.whole());
    // Read past the cache VIEW names (6), written this time, the parts no longer named removed.
    expect(s.read()).toBe(6 + 22);
    const after = m.stored();
    expect(after.view.through).toBe(22);
    expect(after.parts).toEqual(after.named);
  });

  it('a cache of every entry in VIEW, no parts, is used as it is, and written in parts at its first read', async () => {
    const m = countingMeta();
    const s = viewSetup(m.meta);
    await fill(s, 20);
    // Written with VIEW holding every entry, no parts: as a build before parts wrote it.
    await s.open({ viewCache: { ...SMALL, tailEntries: 1000 } }).whoAccessed();
    const legacy = m.stored();
    expect(legacy.view).not.toHaveProperty('parts');
    expect(legacy.view.entries).toHaveLength(20);
    const whole = await s.whole();
    s.read();
    const log = s.open({ viewCache: SMALL });
    expect(await log.entries()).toEqual(whole);
    expect(s.read()).toBe(0);
    const migrated = m.stored();
    expect(migrated.view.through).toBe(legacy.view.through);
    expect(migrated.view.entries.length).toBeLessThanOrEqual(4);
    expect(migrated.named.length).toBeGreaterThan(0);
    expect(migrated.parts).toEqual(migrated.named);
    // Its record of the last read still names it (same `through` and `fullAt`).
    const note = m.raw.get('audit-view-read') as { through: number; fullAt: number };
    expect(note).toMatchObject({
      through: 20,
      fullAt: (legacy.view as unknown as { fullAt: number }).fullAt,
    });
    expect(await s.open({ viewCache: SMALL }).entries()).toEqual(whole);
    expect(s.read()).toBe(0);
  });
});
