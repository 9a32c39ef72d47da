// A `pushed` answer carries the stored version of every row that conflicts. Those versions are up to
// MAX_DOC_BYTES each and a push may name MAX_BATCH_DOCS rows, so an unbounded answer can outgrow
// MAX_FRAME_BYTES: the device's decoder refuses it, the request fails for good, and RxDB resends the same
// batch for ever. Every answer must fit a frame the device decodes, must report every row it committed, and
// a device that splits refused frames (as the engine's sendFrame does) must get every row settled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  MAX_FRAME_BYTES,
  decodeServerFrameTolerant,
  encodeFrame,
  type PushDoc,
  type PushResult,
  type ServerFrame,
} from '@hale/protocol';
import { newId } from '@hale/model';
import type { DocWrite } from './store/index';
import {
  connect,
  makeDoc,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from './testing/harness';

type Row = { doc: PushDoc; assumedRev: string | null };

/** Sends a push and reads the answer as a device would: its size, then the tolerant decoder. */
const rawPush = (c: WsClient, rid: number, rows: Row[]): Promise<{ bytes: number; frame: ServerFrame }> =>
  new Promise((resolve, reject) => {
    const onMessage = (data: Buffer): void => {
      c.ws.off('message', onMessage);
      const text = data.toString('utf8');
      const decoded = decodeServerFrameTolerant(text);
      if (!decoded.ok) {
        reject(new Error(`answer of ${Buffer.byteLength(text)} bytes refused: ${decoded.error.code}`));
        return;
      }
      resolve({ bytes: Buffer.byteLength(text), frame: decoded.value });
    };
    c.ws.on('message', onMessage);
    c.sendRaw(encodeFrame({ t: 'push', rid, rows }));
  });

describe('pushed answer size', () => {
  let t: TestServer;
  let c: WsClient;
  let patient: TestAccount;
  let rid = 1000;
  beforeAll(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    c = await connect(t, patient.device);
    // Raw reads only: the harness's own reader throws on a frame it cannot decode.
    c.ws.removeAllListeners('message');
  });
  afterAll(async () => {
    await c.close();
    await t.stop();
  });

  const stored = (stream: string, id: string): string | undefined =>
    (
      t.store.db.prepare('SELECT rev FROM docs WHERE stream = ? AND id = ?').get(stream, id) as
        { rev: string } | undefined
    )?.rev;

  /** Stores `count` versions of `bytes` sealed bytes each, as another device of the patient left them. */
  const storeLarge = async (count: number, bytes: number): Promise<string[]> => {
    const stream = streamOf(patient.accountId, 'note');
    const rows: DocWrite[] = Array.from({ length: count }, () => ({
      doc: {
        stream,
        id: newId(),
        rev: `3-${randomBytes(12).toString('hex')}`,
        deleted: false,
        epoch: 0,
        ct: new Uint8Array(randomBytes(bytes)),
        size: bytes,
        author: patient.device.deviceId,
      },
      assumedRev: null,
    }));
    await t.store.docs.writeDocs(rows, new Date(t.clock.now).toISOString());
    return rows.map((r) => r.doc.id);
  };

  /**
   * Pushes `rows` as the engine's sendFrame does: a frame refused as a whole TOO_LARGE is split in halves
   * down to single rows. Checks every answer as it comes: within MAX_FRAME_BYTES (else the decode above
   * rejects), and no row committed that the answer does not report `ok`.
   */
  const pushSplitting = async (rows: Row[], answers: number[]): Promise<Map<string, PushResult>> => {
    const before = new Map(rows.map((r) => [r.doc.id, stored(r.doc.stream, r.doc.id)]));
    const { bytes, frame } = await rawPush(c, rid++, rows);
    answers.push(bytes);
    const settled = new Map<string, PushResult>();
    if (frame.t === 'pushed') {
      for (const r of frame.results) settled.set(r.id, r);
    } else {
      expect(frame).toMatchObject({ t: 'error', code: 'TOO_LARGE' });
      expect(rows.length).toBeGreaterThan(1);
    }
    const committed = rows
      .filter((r) => stored(r.doc.stream, r.doc.id) === r.doc.rev && before.get(r.doc.id) !== r.doc.rev)
      .map((r) => r.doc.id);
    expect(committed.filter((id) => settled.get(id)?.status !== 'ok')).toEqual([]);
    if (frame.t === 'pushed') return settled;
    const half = Math.ceil(rows.length / 2);
    for (const part of [rows.slice(0, half), rows.slice(half)]) {
      for (const [id, r] of await pushSplitting(part, answers)) settled.set(id, r);
    }
    return settled;
  };

  it('conflicts whose stored versions outgrow a frame: every answer fits and decodes, every row settles', async () => {
    // Eight stored versions of ≈0.93 MB (10 MB as base64 together), as the reviewer's sequence stored them.
    const large = await storeLarge(8, 930_000);
    const conflicting: Row[] = [];
    for (const id of large) {
      // Small versions of the same records, pushed as new (a device behind, or ids met again).
      conflicting.push({
        doc: await makeDoc(patient, patient.device, 'note', { note: 'x' }, { id, rv: 4 }),
        assumedRev: null,
      });
    }
    const fresh: Row[] = [];
    for (let i = 0; i < 3; i++) {
      fresh.push({
        doc: await makeDoc(patient, patient.device, 'note', { note: `n${i}` }),
        assumedRev: null,
      });
    }
    // New records between the conflicting ones: those must be stored only where an answer reports them.
    const rows = [...conflicting.slice(0, 4), ...fresh, ...conflicting.slice(4)];
    const answers: number[] = [];
    const settled = await pushSplitting(rows, answers);
    expect(Math.max(...answers)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const outcome = rows.map((r) => {
      const result = settled.get(r.doc.id);
      if (result?.status === 'conflict') return [r.doc.id, 'conflict', result.master?.rev];
      return [r.doc.id, result?.status, result?.status === 'ok' ? result.rev : undefined];
    });
    expect(outcome).toEqual(
      rows.map((r) =>
        large.includes(r.doc.id)
          ? [r.doc.id, 'conflict', stored(r.doc.stream, r.doc.id)]
          : [r.doc.id, 'ok', r.doc.rev],
      ),
    );
    // The stored versions are untouched; the new records are stored once each.
    expect(large.map((id) => stored(streamOf(patient.accountId, 'note'), id)?.startsWith('3-'))).toEqual(
      large.map(() => true),
    );
    console.log('answers (bytes)', answers.join(', '));
  }, 60_000);

  it('a push of MAX_BATCH_DOCS rows whose conflicts fill MAX_BATCH_BYTES is answered in one frame', async () => {
    const each = Math.floor(MAX_BATCH_BYTES / MAX_BATCH_DOCS) - 8;
    const ids = await storeLarge(MAX_BATCH_DOCS, each);
    const rows: Row[] = [];
    for (const id of ids) {
      rows.push({
        doc: await makeDoc(patient, patient.device, 'note', { note: 'y' }, { id, rv: 4 }),
        assumedRev: null,
      });
    }
    const { bytes, frame } = await rawPush(c, rid++, rows);
    expect(bytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frame.t).toBe('pushed');
    if (frame.t !== 'pushed') return;
    expect(frame.results.filter((r) => r.status === 'conflict' && r.master !== null)).toHaveLength(
      MAX_BATCH_DOCS,
    );
  }, 60_000);

  it('one row always gets its conflict answered, whatever the size of its stored version', async () => {
    const [id] = await storeLarge(1, 1024 * 1024);
    const doc = await makeDoc(patient, patient.device, 'note', { note: 'z' }, { id: id!, rv: 4 });
    const { bytes, frame } = await rawPush(c, rid++, [{ doc, assumedRev: null }]);
    expect(bytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frame).toMatchObject({ t: 'pushed', results: [{ status: 'conflict', id }] });
  });
});
