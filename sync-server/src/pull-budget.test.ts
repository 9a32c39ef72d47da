// A pull answer must fit the limits the device decodes with: a device refuses an answer over
// MAX_BATCH_BYTES, and since it would ask the same question again, it would never get past it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_BATCH_BYTES,
  MAX_DOC_BYTES,
  decodeServerFrame,
  encodeFrame,
  type StreamCheckpoint,
} from '@hale/protocol';
import { newId } from '@hale/model';
import type { DocWrite } from './store/index';
import { registerAccount, startServer, streamOf, type TestServer } from './testing/harness';

describe('pull byte budget', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a pull over several streams never answers more than MAX_BATCH_BYTES, and repeated pulls deliver everything', async () => {
    const patient = await registerAccount(t);
    const a = streamOf(patient.accountId, 'allergy');
    const b = streamOf(patient.accountId, 'medication');
    const row = (stream: string, bytes: number): DocWrite => ({
      doc: {
        stream,
        id: newId(),
        rev: `1-${'0'.repeat(24)}`,
        deleted: false,
        epoch: 0,
        ct: new Uint8Array(bytes).fill(1),
        size: bytes,
        author: patient.device.deviceId,
      },
      assumedRev: null,
    });
    // Stream a fills the budget to 400 bytes short; stream b's one document is a whole MAX_DOC_BYTES.
    const near = MAX_BATCH_BYTES / 4 - 100;
    const written = [row(a, near), row(a, near), row(a, near), row(a, near), row(b, MAX_DOC_BYTES)];
    await t.store.docs.writeDocs(written.slice(0, 4), new Date(t.clock.now).toISOString());
    await t.store.docs.writeDocs(written.slice(4), new Date(t.clock.now).toISOString());
    const principal = await t.server.ctx.loadDevice(patient.device.deviceId);

    let cursors: StreamCheckpoint[] = [
      { stream: a, checkpoint: 0, done: false },
      { stream: b, checkpoint: 0, done: false },
    ];
    const delivered: string[] = [];
    for (let round = 0; round < 5 && cursors.some((c) => !c.done); round++) {
      const answer = await t.server.service.pull(principal, {
        streams: cursors.map((c) => ({ stream: c.stream, since: c.checkpoint })),
        limit: 1000,
        maxBytes: MAX_BATCH_BYTES,
      });
      const bytes = answer.docs.reduce((n, d) => n + Buffer.from(d.ct, 'base64url').byteLength, 0);
      expect(bytes, `round ${round}`).toBeLessThanOrEqual(MAX_BATCH_BYTES);
      expect(answer.docs.length, `round ${round} makes progress`).toBeGreaterThan(0);
      const decoded = decodeServerFrame(encodeFrame({ t: 'pulled', rid: 1, ...answer }));
      expect(decoded.ok ? 'ok' : `${decoded.error.code}: ${decoded.error.message}`).toBe('ok');
      delivered.push(...answer.docs.map((d) => d.id));
      cursors = answer.streams;
    }
    expect(cursors.every((c) => c.done)).toBe(true);
    expect(delivered).toEqual(written.map((w) => w.doc.id));
  });
});
