import { describe, expect, it } from 'vitest';
import { generateDeviceKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createHeadSync, headSeenStore, type HeadIssue, type HeldCopy, type HeadSyncDeps } from './head-sync';
import { signStreamHead, type HeadLeaf, type SignedStreamHead } from './stream-head';
import type { DeviceKeyLookup } from './device-directory';

const ed = createNodeEd25519();
const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const STREAM = `${PATIENT}/allergy`;
const id = (i: number): string => `01J${String(i).padStart(23, '0')}`;
const leaf = (i: number, rv = 1): HeadLeaf => ({ id: id(i), rv, deleted: false, tag: `tag${i}v${rv}` });

/** Settles every promise the module started (its work is a chain of awaits on resolved fakes). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/**
 * A fake server keeping one statement per stream, a device copy as a list of leaves, a clock and timers
 * the test moves: what `createHeadSync` sees of the engine.
 */
const world = (
  options: {
    accountId?: string;
    lookup?: (deviceId: string) => DeviceKeyLookup;
    /** Runs once the device's copy was read (the store may change right after). */
    afterHeld?: () => void;
    /** The engine tells the seq pulled to now (`current`): the last one settled at. */
    pulled?: true;
  } = {},
) => {
  let pulledTo = 0;
  const signer = generateDeviceKeys();
  const me = generateDeviceKeys();
  let kept: { signed: SignedStreamHead; leaves: HeadLeaf[] } | null = null;
  let copy: HeadLeaf[] = [];
  /** Ids of `copy` with a local write the server has not acknowledged. */
  let unsettled = new Set<string>();
  let now = Date.parse('2026-11-25T12:00:00.000Z');
  const timers: { at: number; run: () => void; cancelled: boolean }[] = [];
  const issues: HeadIssue[] = [];
  const puts: SignedStreamHead[] = [];
  const seen = new Map<string, number>();
  let getHeads = 0;
  const deps: HeadSyncDeps = {
    ed,
    accountId: options.accountId ?? PATIENT,
    device: { deviceId: me.deviceId, secretKey: me.secretKey },
    now: () => now,
    wireReady: () => true,
    putHead: (signed) => {
      puts.push(signed);
      return Promise.resolve();
    },
    getHead: (_stream, after) => {
      getHeads++;
      if (kept === null) return Promise.resolve({ leaves: [] });
      // Two pages: the first leaf, then the rest.
      if (after === undefined && kept.leaves.length > 1) {
        return Promise.resolve({
          signed: kept.signed,
          leaves: kept.leaves.slice(0, 1),
          next: kept.leaves[0]!.id,
        });
      }
      return Promise.resolve({
        signed: kept.signed,
        leaves: after === undefined ? kept.leaves : kept.leaves.slice(1),
      });
    },
    lookupDeviceKey: (_account, deviceId) =>
      Promise.resolve(
        options.lookup?.(deviceId) ??
          (deviceId === signer.deviceId
            ? { status: 'found', key: signer.publicKey }
            : deviceId === me.deviceId
              ? { status: 'found', key: me.publicKey }
              : { status: 'unknown' }),
      ),
    held: () => {
      const held = new Map<string, HeldCopy>(
        copy.map((l) => [
          l.id,
          unsettled.has(l.id)
            ? { rv: l.rv, deleted: l.deleted, unsettled: true, tag: () => Promise.resolve(null) }
            : { rv: l.rv, deleted: l.deleted, tag: () => Promise.resolve(l.tag) },
        ]),
      );
      options.afterHeld?.();
      return Promise.resolve(held);
    },
    report: (issue) => {
      issues.push(issue);
    },
    clear: (stream, keep) => {
      for (let i = issues.length - 1; i >= 0; i--) {
        const issue = issues[i]!;
        if (issue.stream === stream && !keep(issue)) issues.splice(i, 1);
      }
    },
    seen: { get: (s) => seen.get(s) ?? 0, set: (s, seq) => seen.set(s, seq) },
    schedule: (ms, run) => {
      const timer = { at: now + ms, run, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    signEveryMs: 60_000,
    ...(options.pulled
      ? { current: () => ({ streams: [{ stream: STREAM, seq: pulledTo }], hints: () => undefined }) }
      : {}),
  };
  const sync = createHeadSync(deps);
  return {
    sync,
    signer,
    me,
    issues,
    puts,
    seen,
    gets: () => getHeads,
    /** The server keeps a statement by `by` (the other patient device by default) of `leaves` at `seq`. */
    async keep(leaves: HeadLeaf[], seq: number, by = signer) {
      const signed = await signStreamHead(
        ed,
        by.secretKey,
        { stream: STREAM, seq, at: new Date(now).toISOString(), device: by.deviceId },
        leaves,
      );
      kept = { signed, leaves };
      return signed;
    },
    serveLeaves(leaves: HeadLeaf[]) {
      if (kept !== null) kept = { ...kept, leaves };
    },
    hold(leaves: HeadLeaf[], unsettledIds: string[] = []) {
      copy = leaves;
      unsettled = new Set(unsettledIds);
    },
    async advance(ms: number) {
      now += ms;
      for (const t of timers.splice(0)) {
        if (t.cancelled) continue;
        if (t.at <= now) t.run();
        else timers.push(t);
      }
      await flush();
    },
    async settle(seq: number) {
      pulledTo = seq;
      sync.settled([{ stream: STREAM, seq }]);
      await flush();
    },
  };
};

describe('head sync', () => {
  it('a copy holding every confirmed version raises nothing; one missing a record, or older, is named', async () => {
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await w.keep([leaf(1, 2), leaf(2)], 5);
    w.hold([leaf(1, 2), leaf(2), leaf(3)]);
    await w.settle(5);
    expect(w.issues).toEqual([]);
    expect(w.seen.get(STREAM)).toBe(5);

    const fresh = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await fresh.keep([leaf(1, 2), leaf(2)], 5);
    fresh.hold([leaf(1, 1)]);
    await fresh.settle(5);
    expect(fresh.issues.map((i) => [i.code, i.id])).toEqual([
      ['HEAD_ROLLED_BACK', id(1)],
      ['HEAD_WITHHELD', id(2)],
    ]);
    expect(fresh.issues.every((i) => i.message.includes(STREAM) || i.message.includes(id(1)))).toBe(true);
  });

  it('a record with a local write the server has not acknowledged is neither named nor signed', async () => {
    // The statement confirms records 1 and 2 at rv 1; this device is editing both (rv 2, not yet pushed).
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await w.keep([leaf(1), leaf(2)], 5);
    w.hold([leaf(1, 2), leaf(2, 2)], [id(1), id(2)]);
    await w.settle(5);
    expect(w.issues).toEqual([]);
    // One of them settled, the other not: only the settled one is judged (here: rolled back).
    const v = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await v.keep([leaf(1, 3), leaf(2, 3)], 5);
    v.hold([leaf(1, 2), leaf(2, 2)], [id(2)]);
    await v.settle(5);
    expect(v.issues.map((i) => [i.code, i.id])).toEqual([['HEAD_ROLLED_BACK', id(1)]]);
    // A patient device signs its own stream without the copy it has not settled.
    const own = world();
    await own.keep([leaf(1), leaf(2)], 5);
    own.hold([leaf(1), leaf(2), leaf(3, 1)], [id(3)]);
    await own.settle(5);
    await own.settle(6); // the kept statement is a minute's turn: the next waits for it
    await own.advance(60_000);
    expect(own.issues).toEqual([]);
    expect(own.puts.length).toBe(1);
    expect(own.puts[0]?.head.n).toBe(2);
  });

  it('checks again once the seq moved while issues are open, and clears what no longer holds', async () => {
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await w.keep([leaf(1), leaf(2)], 4);
    w.hold([leaf(1)]);
    await w.settle(4);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);
    const asked = w.gets();
    await w.settle(4); // same seq: not asked again
    expect(w.gets()).toBe(asked);
    w.hold([leaf(1), leaf(2)]);
    await w.settle(6);
    expect(w.gets()).toBeGreaterThan(asked);
    expect(w.issues).toEqual([]);
  });

  it('judges a statement past the seq pulled only once caught up to it, or when a later link still falls short', async () => {
    // Another device confirmed seq 7 after this one caught up at 5; its live changes are on the way.
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB', pulled: true });
    await w.keep([leaf(1, 3), leaf(2)], 7);
    w.hold([leaf(1, 1)]);
    await w.settle(5);
    expect(w.issues).toEqual([]);
    // The changes came: judged, and whole.
    w.hold([leaf(1, 3), leaf(2)]);
    await w.settle(7);
    expect(w.issues).toEqual([]);
    expect(w.seen.get(STREAM)).toBe(7);

    // A server that withholds: still short of the statement after the next connection's catch-up.
    const v = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB', pulled: true });
    await v.keep([leaf(1, 3), leaf(2)], 7);
    v.hold([leaf(1, 1)]);
    await v.settle(5);
    expect(v.issues).toEqual([]);
    v.sync.connected();
    await v.settle(5);
    expect(v.issues.map((i) => [i.code, i.id])).toEqual([
      ['HEAD_ROLLED_BACK', id(1)],
      ['HEAD_WITHHELD', id(2)],
    ]);
  });

  it('checks again at the same seq once a record of the stream was stored (the seq moves before it is)', async () => {
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await w.keep([leaf(1), leaf(2)], 4);
    w.hold([leaf(1)]); // seq 4 pulled, record 2 handed to the store and not stored yet
    await w.settle(4);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);
    w.hold([leaf(1), leaf(2)]);
    w.sync.stored(STREAM);
    const asked = w.gets();
    await w.settle(4);
    expect(w.gets()).toBeGreaterThan(asked);
    expect(w.issues).toEqual([]);

    // Stored while the check runs (after it read the copy): the copy is read again before a finding is
    // said, so the record on its way into the store is never named.
    let storeOnce = (): void => undefined;
    const r = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB', afterHeld: () => storeOnce() });
    await r.keep([leaf(1), leaf(2)], 4);
    r.hold([leaf(1)]);
    storeOnce = () => {
      storeOnce = () => undefined;
      r.hold([leaf(1), leaf(2)]);
      r.sync.stored(STREAM);
    };
    await r.settle(4);
    expect(r.issues).toEqual([]);
    // Still missing on the second read: said.
    const still = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await still.keep([leaf(1), leaf(2)], 4);
    still.hold([leaf(1)]);
    await still.settle(4);
    expect(still.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);

    // Stored, and the engine settled, while the check ran: nothing said, and nothing left open.
    let duringCheck = (): void => undefined;
    const q = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB', afterHeld: () => duringCheck() });
    await q.keep([leaf(1), leaf(2, 3)], 4);
    q.hold([leaf(1), leaf(2, 2)]);
    duringCheck = () => {
      duringCheck = () => undefined;
      q.hold([leaf(1), leaf(2, 3)]);
      q.sync.stored(STREAM);
      q.sync.settled([{ stream: STREAM, seq: 4 }]);
    };
    await q.settle(4);
    await flush();
    expect(q.issues).toEqual([]);
  });

  it('a newer statement met on a later link is ahead anew, not judged against a catch-up that reached the earlier one', async () => {
    // Seen at seq 7 past this device's 5; the connection drops; the next catch-up reaches 7, while the other
    // device confirmed seq 9 meanwhile (its change on the way): not judged, no false alarm.
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB', pulled: true });
    await w.keep([leaf(1, 3)], 7);
    w.hold([leaf(1, 2)]);
    await w.settle(5);
    w.sync.connected();
    await w.keep([leaf(1, 4)], 9);
    w.hold([leaf(1, 3)]);
    await w.settle(7);
    expect(w.issues).toEqual([]);
    // Its change came: whole.
    w.hold([leaf(1, 4)]);
    await w.settle(9);
    expect(w.issues).toEqual([]);
    expect(w.seen.get(STREAM)).toBe(9);
    // A server that withholds seq 9 from the next catch-up too: judged then.
    w.sync.connected();
    await w.keep([leaf(1, 5)], 11);
    w.hold([leaf(1, 4)]);
    await w.settle(9);
    w.sync.connected();
    await w.settle(9);
    expect(w.issues.map((i) => [i.code, i.id])).toEqual([['HEAD_ROLLED_BACK', id(1)]]);
  });

  it('a check that could not judge (the signer not looked up) leaves the stream due: an issue of a copy since whole clears', async () => {
    let lookups: 'found' | 'unavailable' = 'found';
    const signerOf: { key?: Uint8Array; id?: string } = {};
    const w = world({
      accountId: 'BBBBBBBBBBBBBBBBBBBBBB',
      lookup: (deviceId) =>
        lookups === 'unavailable'
          ? { status: 'unavailable', message: 'the directory did not answer' }
          : deviceId === signerOf.id && signerOf.key !== undefined
            ? { status: 'found', key: signerOf.key }
            : { status: 'unknown' },
    });
    signerOf.id = w.signer.deviceId;
    signerOf.key = w.signer.publicKey;
    await w.keep([leaf(1), leaf(2)], 4);
    w.hold([leaf(1)]);
    await w.settle(4);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);
    // The copy is whole, but the next check cannot look the signer up: the issue stays for now...
    w.hold([leaf(1), leaf(2)]);
    w.sync.stored(STREAM);
    lookups = 'unavailable';
    await w.settle(6);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);
    // ...and the next settle, at the same seq with nothing stored, checks again and clears it.
    lookups = 'found';
    await w.settle(6);
    expect(w.issues).toEqual([]);
  });

  it('refuses a statement by a device the patient does not know, a revoked one, or a forged one', async () => {
    const stranger = generateDeviceKeys();
    const unknown = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await unknown.keep([leaf(1)], 3, stranger);
    unknown.hold([leaf(1)]);
    await unknown.settle(3);
    expect(unknown.issues.map((i) => i.code)).toEqual(['HEAD_REFUSED']);
    expect(unknown.seen.get(STREAM)).toBeUndefined();

    const revoked = world({
      accountId: 'BBBBBBBBBBBBBBBBBBBBBB',
      lookup: () => ({ status: 'found', key: new Uint8Array(32), revokedAt: '2000-01-01T00:00:00.000Z' }),
    });
    await revoked.keep([leaf(1)], 3);
    revoked.hold([leaf(1)]);
    await revoked.settle(3);
    expect(revoked.issues.map((i) => i.code)).toEqual(['HEAD_REFUSED']);

    const forged = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await forged.keep([leaf(1)], 3);
    forged.serveLeaves([leaf(1, 2)]); // a genuine statement, with leaves it did not sign
    forged.hold([leaf(1, 2)]);
    await forged.settle(3);
    expect(forged.issues.map((i) => [i.code, /not the ones signed/.test(i.message)])).toEqual([
      ['HEAD_REFUSED', true],
    ]);
  });

  it('refuses a statement older than one it verified', async () => {
    const w = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    await w.keep([leaf(1)], 7);
    w.hold([leaf(1)]);
    await w.settle(7);
    expect(w.seen.get(STREAM)).toBe(7);
    await w.keep([leaf(1)], 5);
    w.sync.connected();
    await w.settle(7);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_REFUSED']);
    expect(w.issues[0]!.message).toMatch(/older statement/);
    expect(w.seen.get(STREAM)).toBe(7);
  });

  it('a patient device signs its own stream only once checked whole on this link, then at most once a minute', async () => {
    const w = world();
    w.hold([leaf(1)]);
    await w.settle(1); // first settle: checks (nothing kept), does not sign yet
    expect(w.puts).toHaveLength(0);
    await w.settle(1);
    expect(w.puts).toHaveLength(1);
    expect(w.puts[0]!.head).toMatchObject({ stream: STREAM, seq: 1, n: 1, device: w.me.deviceId });
    expect(w.seen.get(STREAM)).toBe(1);

    w.hold([leaf(1), leaf(2)]);
    await w.settle(2); // a minute has not passed: waits on a timer
    expect(w.puts).toHaveLength(1);
    await w.advance(59_000);
    expect(w.puts).toHaveLength(1);
    await w.advance(1_000);
    expect(w.puts.map((p) => [p.head.seq, p.head.n])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    await w.settle(2); // nothing newer: no third statement
    await w.advance(120_000);
    expect(w.puts).toHaveLength(2);
  });

  it('a patient device whose copy misses a confirmed record does not sign over it', async () => {
    const w = world();
    await w.keep([leaf(1), leaf(2)], 4);
    w.hold([leaf(1)]);
    await w.settle(4);
    await w.settle(4);
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_WITHHELD']);
    expect(w.puts).toHaveLength(0);
  });

  it('signs nothing for a stream of another account, and nothing after stop', async () => {
    const grantee = world({ accountId: 'BBBBBBBBBBBBBBBBBBBBBB' });
    grantee.hold([leaf(1)]);
    await grantee.settle(1);
    await grantee.settle(1);
    expect(grantee.puts).toHaveLength(0);

    const w = world();
    w.hold([leaf(1)]);
    await w.settle(1);
    await w.settle(1);
    w.hold([leaf(1), leaf(2)]);
    await w.settle(2);
    w.sync.stop();
    await w.advance(120_000);
    expect(w.puts).toHaveLength(1);
  });
});

describe('head sync over many streams', () => {
  /** Deps whose server answers each getHead only when the test says so (no statement kept). */
  const slowServer = (options: { checksAtOnce?: number; yieldTo?: () => Promise<void> } = {}) => {
    const me = generateDeviceKeys();
    const asked: string[] = [];
    const answers: (() => void)[] = [];
    let inFlight = 0;
    let most = 0;
    let ready = true;
    const deps: HeadSyncDeps = {
      ed,
      accountId: 'CLINICIANCLINICIANCLIN',
      device: { deviceId: me.deviceId, secretKey: me.secretKey },
      now: () => Date.parse('2026-11-25T12:00:00.000Z'),
      wireReady: () => ready,
      putHead: () => Promise.resolve(),
      getHead: (stream) => {
        asked.push(stream);
        inFlight++;
        most = Math.max(most, inFlight);
        return new Promise((resolve) =>
          answers.push(() => {
            inFlight--;
            resolve({ leaves: [] });
          }),
        );
      },
      lookupDeviceKey: () => Promise.resolve({ status: 'unknown' }),
      held: () => Promise.resolve(new Map()),
      report: () => undefined,
      clear: () => undefined,
      seen: { get: () => 0, set: () => undefined },
      schedule: () => () => undefined,
      ...(options.checksAtOnce === undefined ? {} : { checksAtOnce: options.checksAtOnce }),
      ...(options.yieldTo === undefined ? {} : { yieldTo: options.yieldTo }),
    };
    return {
      sync: createHeadSync(deps),
      asked,
      most: () => most,
      inFlight: () => inFlight,
      answerAll: async () => {
        for (const answer of answers.splice(0)) answer();
        await flush();
      },
      goOffline: () => {
        ready = false;
      },
      goOnline: () => {
        ready = true;
      },
    };
  };
  const streams = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ stream: `P${String(i).padStart(21, '0')}/allergy`, seq: 3 }));

  it('checks at most four streams at once after a connection, each once, oldest first', async () => {
    const s = slowServer();
    const all = streams(30);
    s.sync.connected();
    s.sync.settled(all);
    await flush();
    expect(s.asked).toEqual(all.slice(0, 4).map((x) => x.stream));
    // A settle while they wait adds nothing: every stream is queued once.
    s.sync.settled(all);
    while (s.inFlight() > 0) await s.answerAll();
    expect(s.most()).toBe(4);
    expect(s.asked).toEqual(all.map((x) => x.stream));
  });

  it('starts each check only once `yieldTo` lets it (live work first), and still checks every stream', async () => {
    let gate: { open: () => void; wait: Promise<void> } | null = null;
    const closed = () => {
      let open = (): void => undefined;
      const wait = new Promise<void>((r) => (open = r));
      return { open, wait };
    };
    gate = closed();
    const s = slowServer({ yieldTo: () => gate!.wait });
    const all = streams(10);
    s.sync.connected();
    s.sync.settled(all);
    await flush();
    expect(s.asked).toEqual([]);
    gate.open();
    await flush();
    expect(s.asked).toHaveLength(4);
    // Live work again: the checks answered now free their slots, the next ones wait.
    gate = closed();
    await s.answerAll();
    expect(s.asked).toHaveLength(4);
    gate.open();
    gate = { open: () => undefined, wait: Promise.resolve() };
    while (s.inFlight() > 0 || s.asked.length < all.length) await s.answerAll();
    expect(s.asked).toEqual(all.map((x) => x.stream));
  });

  it('a check whose turn came after the connection went is not counted as checked', async () => {
    let open = (): void => undefined;
    const wait = new Promise<void>((r) => (open = r));
    let yielding = true;
    const s = slowServer({ yieldTo: () => (yielding ? wait : Promise.resolve()) });
    const all = streams(2);
    s.sync.connected();
    s.sync.settled(all);
    await flush();
    s.goOffline();
    open();
    await flush();
    expect(s.asked).toEqual([]);
    // The next connection checks both.
    yielding = false;
    s.goOnline();
    s.sync.connected();
    s.sync.settled(all);
    await flush();
    expect(s.asked).toEqual(all.map((x) => x.stream));
  });

  it('takes `checksAtOnce`, and drops what waits when the connection goes (due again on the next)', async () => {
    const s = slowServer({ checksAtOnce: 2 });
    const all = streams(10);
    s.sync.connected();
    s.sync.settled(all);
    await flush();
    expect(s.asked).toHaveLength(2);
    s.goOffline();
    await s.answerAll();
    expect(s.asked).toHaveLength(2);
  });
});

describe('headSeenStore', () => {
  const fakeMeta = (stored: Record<string, number> | null) => {
    const writes: Record<string, number>[] = [];
    return {
      writes,
      meta: {
        get: () => Promise.resolve(stored),
        set: (_key: string, value: unknown) => {
          writes.push(value as Record<string, number>);
          return Promise.resolve();
        },
      },
    };
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('writes the map once for a burst of raises (a check of every stream), and keeps what it loaded', async () => {
    const m = fakeMeta({ 'P/old': 2 });
    const seen = headSeenStore(m.meta);
    await seen.load();
    for (let i = 0; i < 500; i++) seen.set(`P${i}/allergy`, i + 1);
    expect(seen.get('P7/allergy')).toBe(8);
    await tick();
    await flush();
    expect(m.writes).toHaveLength(1);
    expect(Object.keys(m.writes[0]!)).toHaveLength(501);
    expect(m.writes[0]!['P/old']).toBe(2);
    seen.set('P/old', 5);
    await seen.flush();
    expect(m.writes.map((w) => w['P/old'])).toEqual([2, 5]);
  });
});
