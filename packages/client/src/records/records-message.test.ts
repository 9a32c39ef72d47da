// A sent message says what its sender sent: the records API refuses a later version that changes it
// (the model's Message transition rule), while its delivery state may move.
import { afterEach, describe, expect, it } from 'vitest';
import { RecordError } from './records';
import { closeRecordDbs, recordInput, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

describe('records: a sent message', () => {
  it('keeps its text: an update of the body is refused RECORD_FINAL naming it, nothing written; marking it read is taken', async () => {
    const { records, writes } = await setupRecords();
    const message = await records.add('Message', { ...recordInput('Message'), status: 'sent' });

    const refused = await records.update('Message', message.id, { body: 'Take 100 mg' }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RecordError);
    expect(refused).toMatchObject({ code: 'RECORD_FINAL', field: 'body' });
    expect((await records.get<'Message'>(message.id))?.record.body).toBe(message.body);

    const read = await records.update('Message', message.id, { status: 'read' });
    expect(read.status).toBe('read');
    expect(read.body).toBe(message.body);
    expect(writes.map((w) => w.action)).toEqual(['create', 'update']);
  });

  it('moves its delivery on only: back to delivered or a new read time is refused RECORD_FINAL naming it', async () => {
    const { records, writes } = await setupRecords();
    const { deliveredAt: _d, readAt: _r, ...input } = recordInput('Message');
    const message = await records.add('Message', { ...input, status: 'sent' });
    const deliveredAt = '2024-06-01T10:00:00.000Z';
    const readAt = '2024-06-01T11:00:00.000Z';
    await records.update('Message', message.id, { status: 'delivered', deliveredAt });
    const read = await records.update('Message', message.id, { status: 'read', readAt });

    const refusals = await Promise.all(
      [{ status: 'delivered' as const }, { readAt: '2024-06-02T08:00:00.000Z' }].map((patch) =>
        records.update('Message', message.id, patch).then(
          () => null,
          (error: unknown) => error,
        ),
      ),
    );
    expect(refusals.map((e) => (e instanceof RecordError ? [e.code, e.field] : e))).toEqual([
      ['RECORD_FINAL', 'status'],
      ['RECORD_FINAL', 'readAt'],
    ]);
    expect((await records.get<'Message'>(message.id))?.record).toEqual(read);
    expect(writes.map((w) => w.action)).toEqual(['create', 'update', 'update']);
  });
});
