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
});
