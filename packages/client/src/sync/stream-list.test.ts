// Listing every stream (`createStreamList`) against a fake `request` that pages as the server does (keyset
// by stream id, `next` while more follow): every page, the page bound,
// all-or-nothing failures, one listing shared by concurrent callers (a failed one by no later caller), and
// `accessChanged` frames that arrive mid-walk applied to the result.
import { describe, expect, it } from 'vitest';
import {
  MAX_STREAMS_PAGE,
  type AccessChangedFrame,
  type StreamAccess,
  type StreamsFrame,
} from '@hale/protocol';
import { SyncError } from './connection';
import { MAX_STREAM_PAGES, createStreamList, type ListStreamsRequest } from './stream-list';

const patient = (n: number) => `P${String(n).padStart(21, '0')}`;
const row = (n: number, type: 'allergy' | 'note' = 'allergy', epoch = 0): StreamAccess => ({
  stream: `${patient(n)}/${type}`,
  patientId: patient(n),
  type,
  access: 'read',
  head: n,
  epoch,
});
const byId = (a: StreamAccess, b: StreamAccess) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0);
const ids = (rows: readonly StreamAccess[]) => rows.map((r) => r.stream).sort();

/**
 * A server holding `streams` (changed at will between requests), answering pages of at most `pageSize`
 * rows (fewer than asked, as a server may), with the last id as cursor. Records every request.
 */
const fakeServer = (streams: StreamAccess[], pageSize = 7) => {
  const sent: ListStreamsRequest[] = [];
  let rid = 0;
  const answer = (frame: ListStreamsRequest): StreamsFrame => {
    const after = frame.cursor === undefined ? '' : Buffer.from(frame.cursor, 'base64url').toString('utf8');
    const ahead = [...streams].sort(byId).filter((s) => s.stream > after);
    const size = Math.min(pageSize, frame.limit ?? Number.MAX_SAFE_INTEGER);
    const page = ahead.slice(0, size);
    const last = page.at(-1);
    return {
      t: 'streams',
      rid: ++rid,
      streams: page,
      ...(ahead.length > size && last ? { next: Buffer.from(last.stream).toString('base64url') } : {}),
    };
  };
  return { sent, answer, streams };
};

const many = (count: number) => Array.from({ length: count }, (_, i) => row(i + 1));

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
const deferred = <T>(): Deferred<T> => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

describe('createStreamList', () => {
  it('reads every page, asking for the largest page and following next', async () => {
    const server = fakeServer(many(50));
    const list = createStreamList({
      request: async (frame) => {
        server.sent.push(frame);
        return server.answer(frame);
      },
    });
    const listed = await list.list();
    expect(ids(listed)).toEqual(ids(server.streams));
    expect(listed).toHaveLength(50);
    expect(server.sent).toHaveLength(Math.ceil(50 / 7));
    for (const frame of server.sent)
      expect(frame).toMatchObject({ t: 'listStreams', limit: MAX_STREAMS_PAGE });
    expect(server.sent[0]?.cursor).toBeUndefined();
    for (const frame of server.sent.slice(1)) expect(frame.cursor).toBeTruthy();
  });

  it('stops after MAX_STREAM_PAGES pages of a server that never stops answering next (TOO_LARGE)', async () => {
    let requests = 0;
    const list = createStreamList({
      request: async () => {
        requests++;
        return { t: 'streams', rid: requests, streams: [row(requests)], next: `c${requests}` };
      },
    });
    const error = await list.list().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'TOO_LARGE', retry: false });
    expect(requests).toBe(MAX_STREAM_PAGES);
    // Room for a provider at the caps (10,000 accepted patients and the strangers' 1,000, 13 types each).
    expect(MAX_STREAM_PAGES * MAX_STREAMS_PAGE).toBeGreaterThan(11_000 * 13 + 14);
  });

  it('answers all or nothing: a page that fails fails the listing with its own error', async () => {
    const server = fakeServer(many(40));
    let requests = 0;
    const list = createStreamList({
      request: async (frame) => {
        if (++requests === 3) throw new SyncError('NETWORK', 'socket closed', true);
        return server.answer(frame);
      },
    });
    await expect(list.list()).rejects.toMatchObject({ code: 'NETWORK' });
    // The next listing starts over from the first page and lists everything.
    const sent: ListStreamsRequest[] = [];
    const again = createStreamList({
      request: async (frame) => {
        sent.push(frame);
        return server.answer(frame);
      },
    });
    expect(ids(await again.list())).toEqual(ids(server.streams));
    expect(sent[0]?.cursor).toBeUndefined();
  });

  it('shares one listing among concurrent callers; a later caller starts a new one', async () => {
    const server = fakeServer(many(20));
    const gates: Array<Deferred<void>> = [];
    let requests = 0;
    const list = createStreamList({
      request: async (frame) => {
        requests++;
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return server.answer(frame);
      },
    });
    /** Lets request number `n` (0-based) answer, once it was made. */
    const release = async (n: number): Promise<void> => {
      while (gates.length <= n) await new Promise((r) => setTimeout(r, 0));
      gates[n]!.resolve();
    };
    const first = list.list();
    const second = list.list();
    expect(second).toBe(first);
    for (let n = 0; n < 3; n++) await release(n);
    expect(ids(await first)).toEqual(ids(server.streams));
    expect(requests).toBe(3);
    // Settled: the next caller walks again and sees what changed since.
    server.streams.push(row(99));
    const third = list.list();
    expect(third).not.toBe(first);
    for (let n = 3; n < 6; n++) await release(n);
    expect(ids(await third)).toEqual(ids(server.streams));
    expect(requests).toBe(6);
  });

  it('hands a failed listing only to the callers waiting on it, never to a later one', async () => {
    const server = fakeServer(many(10));
    let fail = true;
    const list = createStreamList({
      request: async (frame) => {
        if (fail) throw new SyncError('TIMEOUT', 'no reply', true);
        return server.answer(frame);
      },
    });
    const a = list.list();
    const b = list.list();
    await expect(a).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(b).rejects.toMatchObject({ code: 'TIMEOUT' });
    fail = false;
    expect(ids(await list.list())).toEqual(ids(server.streams));
  });

  it('keeps a stream listed twice once, as first listed', async () => {
    const list = createStreamList({
      request: async (frame) =>
        frame.cursor === undefined
          ? { t: 'streams', rid: 1, streams: [row(1), row(2)], next: 'c' }
          : { t: 'streams', rid: 2, streams: [row(2, 'allergy', 5), row(3)] },
    });
    const listed = await list.list();
    expect(listed.map((s) => [s.stream, s.epoch])).toEqual([
      [row(1).stream, 0],
      [row(2).stream, 0],
      [row(3).stream, 0],
    ]);
  });

  it('applies the accessChanged frames that arrive during a walk to its result, in arrival order', async () => {
    const server = fakeServer(many(30), 10);
    let pages = 0;
    const frames: AccessChangedFrame[] = [];
    // Frames are fed as the connection would deliver them: between pages.
    const deliver = (frame: AccessChangedFrame) => {
      frames.push(frame);
      list.accessChanged(frame);
    };
    const list = createStreamList({
      request: async (frame) => {
        const answer = server.answer(frame);
        pages++;
        if (pages === 2) {
          // Behind the walk: a grant (patient 0, before every listed id) and a revocation (patient 3, on
          // page 1); ahead of it: a revocation (patient 25) and a new epoch (patient 28).
          server.streams.push(row(0));
          deliver({ t: 'accessChanged', streams: [row(0)], removed: [] });
          server.streams.splice(
            server.streams.findIndex((s) => s.stream === row(3).stream),
            1,
          );
          deliver({
            t: 'accessChanged',
            streams: [],
            removed: [{ stream: row(3).stream, reason: 'revoked' }],
          });
          server.streams.splice(
            server.streams.findIndex((s) => s.stream === row(25).stream),
            1,
          );
          deliver({
            t: 'accessChanged',
            streams: [],
            removed: [{ stream: row(25).stream, reason: 'expired' }],
          });
          server.streams.splice(
            server.streams.findIndex((s) => s.stream === row(28).stream),
            1,
            row(28, 'allergy', 1),
          );
          deliver({ t: 'accessChanged', streams: [row(28, 'allergy', 1)], removed: [] });
          // Revoked and granted again within the walk: the later frame wins.
          deliver({
            t: 'accessChanged',
            streams: [],
            removed: [{ stream: row(5).stream, reason: 'revoked' }],
          });
          deliver({ t: 'accessChanged', streams: [row(5, 'allergy', 2)], removed: [] });
          server.streams.splice(
            server.streams.findIndex((s) => s.stream === row(5).stream),
            1,
            row(5, 'allergy', 2),
          );
        }
        return answer;
      },
    });
    // A frame before the listing starts is not the listing's (its pages were read after it).
    list.accessChanged({ t: 'accessChanged', streams: [row(77)], removed: [] });
    const listed = await list.list();
    expect(pages).toBe(3);
    expect(frames).toHaveLength(6);
    // Exactly what the server holds after the walk, rows included.
    expect([...listed].sort(byId)).toEqual([...server.streams].sort(byId));
    expect(listed.find((s) => s.stream === row(28).stream)?.epoch).toBe(1);
    expect(listed.find((s) => s.stream === row(5).stream)?.epoch).toBe(2);
    // A frame after the listing settled changes nothing in what it answered.
    list.accessChanged({ t: 'accessChanged', streams: [row(88)], removed: [] });
    expect(listed.some((s) => s.stream === row(88).stream)).toBe(false);
  });
});
