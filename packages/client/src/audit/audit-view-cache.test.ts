// The views (whoAccessed, disclosures, entries) read only what the server served since the entries this
// device verified before (the view cache), and answer what a read of the whole log would. What the server
// changes in the part already read (an entry rewritten in place, a chain cut, a restore) is reported by
// verify() at once, by the views at the next whole check: at once when a restore was announced or what
// was served since does not verify against the cached heads, else within a day or 25 views.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret, tweetnaclEd25519 } from '@hale/crypto';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, type AuditBody, type ChainState } from './audit-chain';
import { auditLogOpener, memoryMeta } from './audit-log.test-util';
import type { AuditLogDeps } from './audit-log';

const ed = tweetnaclEd25519;
const DAY = 24 * 3600_000;

/**
 * A patient device reading its log from a scripted server that serves, after a pull's `since`, what
 * `served` holds past it (positions are never reused, as on the real server); the server can rewrite an
 * entry in place, cut a chain, or go on after a cut. `served` counts the entries each pull carried.
 */
const viewSetup = () => {
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
  const { meta } = memoryMeta();
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
