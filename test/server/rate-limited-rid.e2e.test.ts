// A device that outruns its per-device rate limit, through its real connection to a real server (a
// session of `openHaleForTests` over `nodePlatform`, its socket's frames recorded): every request is
// answered (RATE_LIMITED carries the request's rid), the connection waits the `retryAfterMs` the server
// names and sends the request again on the same socket, so each request ends with its reply. Before, the
// server could not find a rid written after the frame's arrays (the connection wrote it last), the
// requests got no answer, and the device timed out (TIMEOUT, then NETWORK for the others) and dropped the
// socket.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Subject, filter, firstValueFrom, startWith, throwError, timeout } from 'rxjs';
import type { ClientFrame, ServerFrame } from '@hale/protocol';
import type { RecordKind, WebSocketLike } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { online, useHaleSessions } from '../client-api/hale-devices';

const PER_SECOND = 20;
const BURST = 3;
/** Records written at once; each goes out in its own push (`batchSize` 1). */
const WRITES = 16;
const KINDS: readonly RecordKind[] = ['Allergy', 'Medication', 'Condition', 'Immunization'];

interface Wire {
  at: number;
  text: string;
}

/** nodePlatform with the device's sockets counted and every frame they send and receive recorded. */
const recordedPlatform = () => {
  const sent: Wire[] = [];
  const received: Wire[] = [];
  const changed = new Subject<void>();
  let sockets = 0;
  const createWebSocket = (url: string): WebSocketLike => {
    sockets++;
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      sent.push({ at: performance.now(), text: data });
      rawSend(data);
      changed.next();
    };
    ws.on('message', (data: Buffer) => {
      received.push({ at: performance.now(), text: data.toString('utf8') });
      changed.next();
    });
    return ws as unknown as WebSocketLike;
  };
  /** The rids of requests sent whose last answer is none yet, or RATE_LIMITED (to be sent again). */
  const unanswered = (): number[] => {
    const last = new Map<number, string>();
    for (const w of received) {
      const frame = JSON.parse(w.text) as ServerFrame;
      if ('rid' in frame && typeof frame.rid === 'number')
        last.set(frame.rid, frame.t === 'error' ? frame.code : frame.t);
    }
    return sent.flatMap((w) => {
      const frame = JSON.parse(w.text) as ClientFrame;
      if (!('rid' in frame) || typeof frame.rid !== 'number') return [];
      const answer = last.get(frame.rid);
      return answer === undefined || answer === 'RATE_LIMITED' ? [frame.rid] : [];
    });
  };
  /** Resolves once every request sent so far has its answer (checked at each frame sent or received). */
  const settled = () =>
    firstValueFrom(
      changed.pipe(
        startWith(undefined),
        filter(() => unanswered().length === 0),
        timeout({
          first: 15_000,
          with: () =>
            throwError(() => new Error(`timed out: requests unanswered: ${unanswered().join(', ')}`)),
        }),
      ),
    );
  return {
    platform: { ...nodePlatform(), createWebSocket },
    sent,
    received,
    settled,
    sockets: () => sockets,
  };
};

describe('rate-limited requests from the device connection', () => {
  const fixture = useServer({
    config: { rateLimitPerDevice: { perSecond: PER_SECOND, burst: BURST } },
    realClock: true,
  });
  const sessions = useHaleSessions();

  it('pulls, pushes and the other requests over the limit all get their reply, after the wait the server names, on one socket', async () => {
    const wire = recordedPlatform();
    const hale = await openHaleForTests(
      { server: fixture.t.url, platform: wire.platform },
      { session: { batchSize: 1 } },
    );
    const { session } = await hale.createAccount({
      role: 'patient',
      passphrase: 'a long passphrase only I know',
      loginName: `limited-${Date.now().toString(36)}`,
      deviceName: 'limited device',
    });
    sessions.push(session);
    await online(session);
    // Written at once: pushed one by one, with the streams' heads read and put, far past the limit (the
    // first sync's pulls and the grants, envelopes and subscriptions of going online already met it).
    await Promise.all(
      Array.from({ length: WRITES }, (_, i) => {
        const kind = KINDS[i % KINDS.length]!;
        return session.records.add(kind, input(kind));
      }),
    );
    await session.sync.awaitInSync();
    // Stopped once every request it sent has its answer (the heads it puts after a push, too).
    await wire.settled();
    await session.close();

    // Each request (by rid) ended with its reply, the last frame answering it: pulls pulled, pushes pushed,
    // and none of the others (streams, envelopes, grants, heads) refused.
    const requests = wire.sent.map((w) => ({ at: w.at, frame: JSON.parse(w.text) as ClientFrame }));
    const frames = wire.received.map((w) => ({ at: w.at, frame: JSON.parse(w.text) as ServerFrame }));
    const lastReply = new Map<number, string>();
    for (const { frame } of frames)
      if ('rid' in frame && typeof frame.rid === 'number')
        lastReply.set(frame.rid, frame.t === 'error' ? `error ${frame.code}` : frame.t);
    const outcomesOf = (which: (t: string) => boolean) => [
      ...new Map(
        requests.flatMap(({ frame }) =>
          which(frame.t) && 'rid' in frame && typeof frame.rid === 'number'
            ? [[frame.rid, lastReply.get(frame.rid) ?? 'no reply'] as const]
            : [],
        ),
      ).values(),
    ];
    const pulls = outcomesOf((t) => t === 'pull');
    const pushes = outcomesOf((t) => t === 'push');
    expect(pulls.length).toBeGreaterThan(0);
    expect(pushes.length).toBeGreaterThanOrEqual(WRITES);
    expect({ pulls, pushes }).toEqual({
      pulls: Array(pulls.length).fill('pulled'),
      pushes: Array(pushes.length).fill('pushed'),
    });
    const others = outcomesOf((t) => t !== 'pull' && t !== 'push');
    expect(others.filter((o) => o === 'no reply' || o.startsWith('error'))).toEqual([]);
    // One socket, and no refusal that lost its request (an error frame without a rid).
    const ridless = frames.flatMap(({ frame }) =>
      frame.t === 'error' && frame.rid === undefined ? [frame] : [],
    );
    expect({ sockets: wire.sockets(), ridless }).toEqual({ sockets: 1, ridless: [] });

    // The limit was met (so the waits were exercised), every refusal named its request, and the request
    // went out again no sooner than the server asked.
    const limited = frames.flatMap(({ at, frame }) =>
      frame.t === 'error' && frame.code === 'RATE_LIMITED' ? [{ at, frame }] : [],
    );
    // How many refusals there are depends on the machine's load (a busy server drains its bucket later);
    // the pacing of requests refused together is pinned by connection-rate-limit.test.ts.
    expect(limited.length).toBeGreaterThanOrEqual(WRITES - BURST - 2);
    for (const { at, frame } of limited) {
      expect(frame.rid).toBeTypeOf('number');
      const retryAfterMs = frame.details?.['retryAfterMs'];
      expect(retryAfterMs).toBeTypeOf('number');
      const again = requests.find((r) => r.at > at && 'rid' in r.frame && r.frame.rid === frame.rid);
      expect(again, `rid ${frame.rid} sent again`).toBeDefined();
      // performance.now() is finer than the timers and Date.now() the device plans by (both in whole
      // milliseconds): 2 ms of slack for their rounding.
      expect(again!.at - at).toBeGreaterThanOrEqual(Number(retryAfterMs) - 2);
    }
    // The rid goes first, so a server that reads only a frame's start still finds it.
    for (const w of wire.sent.slice(2)) expect(w.text.startsWith('{"rid":')).toBe(true);
  });
});
