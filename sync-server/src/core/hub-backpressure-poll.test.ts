// While a connection's socket holds more than the high-water mark, live delivery waits and looks at it
// again every 10 ms. Every commit on a stream the connection follows asks for a flush meanwhile; each such
// ask must not start a poll loop of its own, or a client that reads slowly (never slowly enough for the
// stall timeout) makes the server look at its socket once per commit per 10 ms for as long as it is slow.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hubOverStore, newDocs, probedConnection, sleep, STREAM } from './hub-store.test-util';

describe('live delivery waiting on a full socket', () => {
  let fixture: Awaited<ReturnType<typeof hubOverStore>>;
  beforeEach(async () => {
    fixture = await hubOverStore('hale-hub-poll-');
  });
  afterEach(async () => {
    await fixture.close();
  });

  it('looks at the socket once per 10 ms however many commits arrive meanwhile, then delivers them all', async () => {
    const { hub } = fixture.start({ highWaterBytes: 1000 });
    const write = () => fixture.store.docs.writeDocs(newDocs(1, 64), new Date().toISOString());
    let buffered = 0;
    const c = probedConnection(() => buffered);
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await write();
    await sleep(30);
    expect(c.changes()).toHaveLength(1);

    // The client falls behind (above the mark, well within the stall timeout) while 50 commits arrive.
    buffered = 5000;
    for (let i = 0; i < 50; i++) await write();
    await sleep(30);
    const before = c.polls();
    await sleep(300);
    // One look per 10 ms is about 30 (timers may run late, never early); one loop per commit made ~1,500.
    expect(c.polls() - before).toBeLessThanOrEqual(45);
    expect(c.changes()).toHaveLength(1);

    buffered = 0;
    const until = Date.now() + 3000;
    while (c.changes().flatMap((f) => f.docs).length < 51 && Date.now() < until) await sleep(20);
    expect(c.changes().flatMap((f) => f.docs.map((d) => d.seq))).toEqual(
      Array.from({ length: 51 }, (_, i) => i + 1),
    );
  });
});
