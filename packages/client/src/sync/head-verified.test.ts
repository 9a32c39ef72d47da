import { describe, expect, it } from 'vitest';
import { generateDeviceKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createHeadSync, headSeenStore, type HeadIssue, type HeldCopy } from './head-sync';
import { verifiedStore, type WritesSince } from './head-verified';
import { signStreamHead, type HeadLeaf, type SignedStreamHead } from './stream-head';

const ed = createNodeEd25519();
const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const STREAM = `${PATIENT}/allergy`;
const OTHER = `${PATIENT}/lab-result`;
const id = (i: number): string => `01J${String(i).padStart(23, '0')}`;
const leaf = (i: number, rv = 1): HeadLeaf => ({ id: id(i), rv, deleted: false, tag: `tag${i}v${rv}` });

const flush = async (): Promise<void> => {
  for (let i = 0; i < 80; i++) await Promise.resolve();
};

/**
 * A server keeping one statement per stream, a device store (copies and a log of write stamps) and its
 * meta, which outlive each "session" (`open()`: a new head sync over the same store, as after a restart).
 */
const world = () => {
  const signer = generateDeviceKeys();
  const me = generateDeviceKeys();
  const kept = new Map<string, { signed: SignedStreamHead; leaves: HeadLeaf[] }>();
  const copies = new Map<string, HeadLeaf[]>();
  const log: { stream: string; lwt: number; id: string }[] = [];
  const meta = new Map<string, unknown>();
  let clock = Date.parse('2026-11-25T12:00:00.000Z');
  const tagged = new Map<string, number>();
  const issues: HeadIssue[] = [];
  const limits: (number | undefined)[] = [];
  const writes: WritesSince = (from) => {
    const after = log.filter(
      (w) => from === null || w.lwt > from.lwt || (w.lwt === from.lwt && w.id > from.id),
    );
    const last = new Map<string, number>();
    for (const w of after) last.set(w.stream, Math.max(last.get(w.stream) ?? 0, w.lwt));
    const end = after.at(-1);
    return Promise.resolve({ last, end: end === undefined ? null : { lwt: end.lwt, id: end.id } });
  };
  const fakeMeta = {
    get: (key: string) => Promise.resolve((meta.get(key) as never) ?? null),
    set: (key: string, value: unknown) => {
      meta.set(key, structuredClone(value));
      return Promise.resolve();
    },
  };
  const open = async () => {
    const seen = headSeenStore(fakeMeta);
    await seen.load();
    const verified = verifiedStore(fakeMeta, () => clock);
    await verified.load();
    const sync = createHeadSync({
      ed,
      accountId: 'BBBBBBBBBBBBBBBBBBBBBB',
      device: { deviceId: me.deviceId, secretKey: me.secretKey },
      now: () => clock,
      wireReady: () => true,
      putHead: () => Promise.resolve(),
      getHead: (stream, _after, limit) => {
        limits.push(limit);
        const k = kept.get(stream);
        return Promise.resolve(k === undefined ? { leaves: [] } : { signed: k.signed, leaves: k.leaves });
      },
      lookupDeviceKey: () => Promise.resolve({ status: 'found', key: signer.publicKey }),
      held: (stream) =>
        Promise.resolve(
          new Map<string, HeldCopy>(
            (copies.get(stream) ?? []).map((l) => [
              l.id,
              {
                rv: l.rv,
                deleted: false,
                tag: () => {
                  tagged.set(stream, (tagged.get(stream) ?? 0) + 1);
                  return Promise.resolve(l.tag);
                },
              },
            ]),
          ),
        ),
      report: (issue) => void issues.push(issue),
      clear: (stream, keep) => {
        for (let i = issues.length - 1; i >= 0; i--)
          if (issues[i]!.stream === stream && !keep(issues[i]!)) issues.splice(i, 1);
      },
      seen,
      verified,
      writes,
      schedule: () => () => undefined,
    });
    return {
      async settle(seqs: Record<string, number>) {
        sync.connected();
        sync.settled(Object.entries(seqs).map(([stream, seq]) => ({ stream, seq })));
        await flush();
        await seen.flush();
        await verified.flush();
      },
    };
  };
  return {
    issues,
    limits,
    tagged: (stream: string) => tagged.get(stream) ?? 0,
    meta,
    open,
    async keep(stream: string, leaves: HeadLeaf[], seq: number) {
      const signed = await signStreamHead(
        ed,
        signer.secretKey,
        { stream, seq, at: new Date(clock).toISOString(), device: signer.deviceId },
        leaves,
      );
      kept.set(stream, { signed, leaves });
    },
    /** The device stores `leaves` as its copy of `stream` (a write, stamped now). */
    write(stream: string, leaves: HeadLeaf[]) {
      copies.set(stream, leaves);
      for (const l of leaves) log.push({ stream, lwt: clock, id: l.id });
    },
    tick(ms: number) {
      clock += ms;
    },
  };
};

describe('head sync: streams verified whole are remembered', () => {
  it('an unchanged stream is not read nor tagged again after a restart; a written one is', async () => {
    const w = world();
    await w.keep(STREAM, [leaf(1), leaf(2)], 3);
    await w.keep(OTHER, [leaf(5)], 1);
    w.write(STREAM, [leaf(1), leaf(2)]);
    w.write(OTHER, [leaf(5)]);
    w.tick(60_000);
    await (await w.open()).settle({ [STREAM]: 3, [OTHER]: 1 });
    expect(w.issues).toEqual([]);
    expect([w.tagged(STREAM), w.tagged(OTHER)]).toEqual([2, 1]);

    w.tick(60_000);
    w.limits.splice(0);
    await (await w.open()).settle({ [STREAM]: 3, [OTHER]: 1 });
    expect([w.tagged(STREAM), w.tagged(OTHER)]).toEqual([2, 1]);
    // The statement only (one leaf asked), not its leaf pages.
    expect(w.limits).toEqual([1, 1]);
    // Marks moved on to this check; a stream no longer readable is forgotten.
    const marks = w.meta.get('head-verified') as Record<string, { lwt: number }>;
    expect(marks[STREAM]!.lwt).toBe(Date.parse('2026-11-25T12:02:00.000Z'));

    // One record of the lab stream written again (same statement): that stream only is read again.
    w.tick(60_000);
    w.write(OTHER, [leaf(5)]);
    w.tick(60_000);
    await (await w.open()).settle({ [STREAM]: 3, [OTHER]: 1 });
    expect([w.tagged(STREAM), w.tagged(OTHER)]).toEqual([2, 2]);
    expect(w.issues).toEqual([]);
    await (await w.open()).settle({ [STREAM]: 3 });
    expect(Object.keys(w.meta.get('head-verified') as object)).toEqual([STREAM]);
  });

  it('a copy rolled back by the server after a restart is still found, and a newer statement is read', async () => {
    const w = world();
    await w.keep(STREAM, [leaf(1, 2), leaf(2)], 4);
    w.write(STREAM, [leaf(1, 2), leaf(2)]);
    w.tick(60_000);
    await (await w.open()).settle({ [STREAM]: 4 });
    expect(w.issues).toEqual([]);

    // The server serves version 1 of record 1 again and the device stores it; the statement is the same.
    w.tick(60_000);
    w.write(STREAM, [leaf(1, 1), leaf(2)]);
    w.tick(1000);
    await (await w.open()).settle({ [STREAM]: 4 });
    expect(w.issues.map((i) => [i.code, i.id])).toEqual([['HEAD_ROLLED_BACK', id(1)]]);
    // Still found at the next start: a stream with findings is not remembered.
    w.issues.splice(0);
    await (await w.open()).settle({ [STREAM]: 4 });
    expect(w.issues.map((i) => i.code)).toEqual(['HEAD_ROLLED_BACK']);

    // A new statement (another record confirmed) is checked against the copy, unchanged or not.
    const w2 = world();
    await w2.keep(STREAM, [leaf(1)], 2);
    w2.write(STREAM, [leaf(1)]);
    w2.tick(60_000);
    await (await w2.open()).settle({ [STREAM]: 2 });
    await w2.keep(STREAM, [leaf(1), leaf(2)], 3);
    await (await w2.open()).settle({ [STREAM]: 3 });
    expect(w2.issues.map((i) => [i.code, i.id])).toEqual([['HEAD_WITHHELD', id(2)]]);
    // And an older statement than one verified is refused, remembered or not.
    await w2.keep(STREAM, [leaf(1)], 1);
    await (await w2.open()).settle({ [STREAM]: 3 });
    expect(w2.issues.map((i) => i.code)).toContain('HEAD_REFUSED');
  });

  it('a write stamped at the mark (the write clock when the copy was read) counts as after it; a clock set back forgets all', async () => {
    const w = world();
    await w.keep(STREAM, [leaf(1)], 1);
    w.write(STREAM, [leaf(1)]);
    await (await w.open()).settle({ [STREAM]: 1 });
    // Read again while the clock stands at the write's stamp: not known to be before the mark.
    await (await w.open()).settle({ [STREAM]: 1 });
    expect(w.tagged(STREAM)).toBe(2);
    w.tick(1);
    await (await w.open()).settle({ [STREAM]: 1 });
    expect(w.tagged(STREAM)).toBe(3);
    await (await w.open()).settle({ [STREAM]: 1 });
    expect(w.tagged(STREAM)).toBe(3);

    w.tick(-3_600_000);
    await (await w.open()).settle({ [STREAM]: 1 });
    expect(w.tagged(STREAM)).toBe(4);
    expect(w.meta.has('head-verified')).toBe(true);
  });
});
