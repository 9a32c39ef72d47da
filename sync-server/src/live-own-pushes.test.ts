// Live delivery withholds a connection's own pushes from it (core/own-pushes.ts): the pushing connection
// gets the page's checkpoint with none of its own versions, while another device of the account, and the
// same device on another connection, get every version; a version met as a conflict is not withheld.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangesFrame, PushedFrame, ServerFrame } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';
import { createOwnPushes, MAX_OWN_PUSHES } from './core/own-pushes';

const isChanges = (f: ServerFrame): f is ChangesFrame => f.t === 'changes';
/** Until a changes frame carries the checkpoint `seq` (frames stay in `unsolicited`, read below). */
const changesUpTo = (c: WsClient, seq: number) =>
  vi.waitFor(
    () => {
      if (!c.unsolicited.some((f) => isChanges(f) && f.streams[0]!.checkpoint >= seq))
        throw new Error('not yet');
    },
    { timeout: 10_000, interval: 20 },
  );
const seqsSeen = (c: WsClient) => c.unsolicited.filter(isChanges).flatMap((f) => f.docs.map((d) => d.seq));

describe('live delivery and a connection’s own pushes', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  it('sends the pusher the checkpoint without its versions, every other follower all of them', async () => {
    const patient = await registerAccount(t);
    const phone = await addDevice(t, patient);
    const stream = streamOf(patient.accountId, 'allergy');
    const a = await connect(t, patient.device);
    const again = await connect(t, patient.device);
    const b = await connect(t, phone);
    for (const c of [a, again, b]) {
      expect((await c.request({ t: 'subscribe', rid: c.rid(), streams: [{ stream, since: 0 }] })).t).toBe(
        'ok',
      );
    }
    const docs = await Promise.all(
      [1, 2, 3].map((i) => makeDoc(patient, patient.device, 'allergy', { substance: `s${i}` })),
    );
    const pushed = await a.request<PushedFrame>({
      t: 'push',
      rid: a.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    });
    expect(pushed.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    await Promise.all([changesUpTo(a, 3), changesUpTo(again, 3), changesUpTo(b, 3)]);
    expect(seqsSeen(a)).toEqual([]);
    expect(seqsSeen(again)).toEqual([1, 2, 3]);
    expect(seqsSeen(b)).toEqual([1, 2, 3]);

    // The other device's push goes to this connection, not back to the other device's.
    const fromPhone = await makeDoc(patient, phone, 'allergy', { substance: 'latex' });
    await b.request({ t: 'push', rid: b.rid(), rows: [{ doc: fromPhone, assumedRev: null }] });
    await Promise.all([changesUpTo(a, 4), changesUpTo(b, 4)]);
    expect(seqsSeen(a)).toEqual([4]);
    expect(seqsSeen(b)).toEqual([1, 2, 3]);

    // A push answered as a conflict stored nothing of this connection's: the server's version still
    // reaches it when it changes, like any other.
    const stale = await makeDoc(
      patient,
      patient.device,
      'allergy',
      { substance: 'stale' },
      { id: docs[0]!.id },
    );
    const conflict = await a.request<PushedFrame>({
      t: 'push',
      rid: a.rid(),
      rows: [{ doc: stale, assumedRev: null }],
    });
    expect(conflict.results[0]!.status).toBe('conflict');
    const newer = await makeDoc(
      patient,
      phone,
      'allergy',
      { substance: 's1, newer' },
      { id: docs[0]!.id, rv: 2 },
    );
    await b.request({ t: 'push', rid: b.rid(), rows: [{ doc: newer, assumedRev: docs[0]!.rev }] });
    await changesUpTo(a, 5);
    expect(seqsSeen(a)).toEqual([4, 5]);
    for (const c of [a, again, b]) await c.close();
  });

  it('remembers a bounded number of versions, the oldest forgotten first, and only stored ones', () => {
    const own = createOwnPushes();
    const v = (i: number) => ({ stream: 's', id: `r${i}`, rev: `1-${i}` });
    own.note(Array.from({ length: MAX_OWN_PUSHES + 2 }, (_, i) => ({ doc: v(i) })));
    expect(own.size).toBe(MAX_OWN_PUSHES);
    const page = [v(0), v(1), v(2), v(MAX_OWN_PUSHES + 1)];
    expect(own.take(page)).toEqual([v(0), v(1)]);
    // Taken once: the same versions served again (another page from an older cursor) go out.
    expect(own.take([v(2)])).toEqual([v(2)]);
    const none = [v(7)];
    own.settle([{ doc: v(7) }], [{ status: 'conflict', stream: 's', id: 'r7', master: null } as never]);
    expect(own.take(none)).toBe(none);
  });
});
