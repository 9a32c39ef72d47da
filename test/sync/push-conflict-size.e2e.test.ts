// A device pushes records whose ids the server already holds in large versions (another device's), so every
// row conflicts and the `pushed` answer would carry all those versions: more than MAX_FRAME_BYTES together.
// The device refused such an answer as BAD_MESSAGE (not retryable), RxDB sent the same batch for ever, and
// none of the device's writes synced. The server now refuses the push whole (TOO_LARGE, nothing stored), the
// engine splits it, and every row settles.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { MAX_FRAME_BYTES } from '@hale/protocol';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice } from '../support/devices';
import { input } from '../support/records';

const server = useServer();
const RECORDS = 40;
const text = (): string => randomBytes(37_500).toString('base64url');

describe('push: conflicts whose server versions outgrow one answer', () => {
  it('a device whose every row meets a large server version converges', async () => {
    const { t, sessions } = server;
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const a = await openDevice(t, patient);
    sessions.push(a);
    // Large versions on the server (≈200 kB sealed each, 10.7 MB as base64 together).
    const ids: string[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const note = await a.records.add(
        'NoteVersion',
        input('NoteVersion', { subjective: text(), objective: text(), assessment: text(), plan: text() }),
      );
      ids.push(note.id);
    }
    await allPushed(a, 'large versions pushed');

    // The second device writes small records under the same ids while offline (it never pulled them).
    const pushRids = new Set<number>();
    const answers: Array<{ bytes: number; t: string; code?: string; conflicts: string[] }> = [];
    let pushAnswered = false;
    const heldPulls: Array<() => void> = [];
    const factory = interceptedWebSocket({
      sent: (frame, send) => {
        const parsed = JSON.parse(frame) as { t: string; rid?: number };
        if (parsed.t === 'push' && parsed.rid !== undefined) pushRids.add(parsed.rid);
        send(frame);
      },
      received: (frame, deliver) => {
        const parsed = JSON.parse(frame) as {
          t: string;
          rid?: number;
          code?: string;
          results?: Array<{ status: string; id: string; master?: unknown }>;
        };
        if (parsed.rid !== undefined && pushRids.has(parsed.rid)) {
          answers.push({
            bytes: Buffer.byteLength(frame),
            t: parsed.t,
            ...(parsed.code === undefined ? {} : { code: parsed.code }),
            conflicts: (parsed.results ?? [])
              .filter((r) => r.status === 'conflict' && r.master)
              .map((r) => r.id),
          });
          if (!pushAnswered) {
            pushAnswered = true;
            for (const release of heldPulls.splice(0)) release();
          }
        }
        // Pull answers wait for the first push answer, so the push meets the server's versions as conflicts
        // (not the pull first); released after a while in any case.
        if (parsed.t === 'pulled' && !pushAnswered) {
          heldPulls.push(() => deliver());
          setTimeout(() => heldPulls.splice(0).forEach((release) => release()), 5_000);
          return;
        }
        deliver();
      },
    });
    const b = await openDevice(t, patient, { device: second, offline: true, createWebSocket: factory });
    sessions.push(b);
    for (const id of ids) {
      await b.records.add('NoteVersion', { ...input('NoteVersion', { subjective: 'short' }), id });
    }
    b.sync.goOnline();
    const settled = await eventually(() => b.sync.state().pendingWrites === 0, 'all settled', 40_000).then(
      () => true,
      () => false,
    );
    expect({
      settled,
      pending: b.sync.state().pendingWrites,
      refusedAnswers: b.sync.state().errors.filter((e) => e.code === 'BAD_MESSAGE').length,
      largest: Math.max(...answers.map((x) => x.bytes)) <= MAX_FRAME_BYTES,
    }).toEqual({ settled: true, pending: 0, refusedAnswers: 0, largest: true });
    // The path under test ran: the server's versions came back as conflicts, every one of them.
    expect(new Set(answers.flatMap((x) => x.conflicts))).toEqual(new Set(ids));
  }, 90_000);
});
