// A sent message says what its sender sent: the records API refuses a later version that changes it
// (the model's Message transition rule), while its delivery state may move, and only its recipient moves
// it: a receipt says what the recipient did.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, type RecordOf } from '@hale/model';
import { RecordError } from './records';
import {
  closeRecordDbs,
  pulledSide,
  recordInput,
  recordRefusal,
  setupRecords,
  storeMerged,
  writableInput,
} from './records.test-util';

afterEach(closeRecordDbs);

const PROVIDER_DEVICE = 'DevP000000000000000001';

/** A message the provider sent to the patient, stored on the patient's device as a pull leaves it. */
const fromProvider = async (db: Parameters<typeof storeMerged>[0]): Promise<RecordOf<'Message'>> => {
  const { records: providerSide } = await setupRecords({
    accountId: EXAMPLE_PROVIDER_ID,
    deviceId: PROVIDER_DEVICE,
  });
  const sent = await providerSide.add(
    'Message',
    { ...writableInput('Message'), recipientId: EXAMPLE_PATIENT_ID },
    { patientId: EXAMPLE_PATIENT_ID },
  );
  await storeMerged(db, pulledSide('Message', sent, { by: EXAMPLE_PROVIDER_ID, author: PROVIDER_DEVICE }));
  return sent;
};

describe('records: a sent message', () => {
  it('keeps its text: an update of the body is refused RECORD_FINAL naming it, nothing written', async () => {
    const { records, writes } = await setupRecords();
    const message = await records.add('Message', writableInput('Message'));

    const refused = await records.update('Message', message.id, { body: 'Take 100 mg' }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RecordError);
    expect(refused).toMatchObject({ code: 'RECORD_FINAL', field: 'body' });
    expect((await records.get<'Message'>(message.id))?.record.body).toBe(message.body);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('its sender cannot mark it delivered or read, nor send it as read: AUTHOR_MISMATCH, nothing written', async () => {
    const { db, records, writes } = await setupRecords();
    const asRead = await recordRefusal(records.add('Message', recordInput('Message')));
    expect([asRead.code, asRead.field]).toEqual(['AUTHOR_MISMATCH', 'status']);
    expect(await db.records.count().exec()).toBe(0);

    const message = await records.add('Message', writableInput('Message'));
    const refusals = await Promise.all(
      [
        { status: 'read' as const, readAt: '2024-06-01T11:00:00.000Z' },
        { deliveredAt: '2024-06-01T10:00:00.000Z' },
      ].map((patch) => recordRefusal(records.update('Message', message.id, patch))),
    );
    expect(refusals.map((e) => [e.code, e.field])).toEqual([
      ['AUTHOR_MISMATCH', 'status'],
      ['AUTHOR_MISMATCH', 'deliveredAt'],
    ]);
    expect((await records.get<'Message'>(message.id))?.record).toEqual(message);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('its recipient moves its delivery on only: back to delivered or a new read time is refused RECORD_FINAL', async () => {
    const { db, records, writes } = await setupRecords();
    const message = await fromProvider(db);
    const deliveredAt = '2024-06-01T10:00:00.000Z';
    const readAt = '2024-06-01T11:00:00.000Z';
    await records.update('Message', message.id, { status: 'delivered', deliveredAt });
    const read = await records.update('Message', message.id, { status: 'read', readAt });
    expect([read.status, read.readAt, read.body]).toEqual(['read', readAt, message.body]);

    const refusals = await Promise.all(
      [{ status: 'delivered' as const }, { readAt: '2024-06-02T08:00:00.000Z' }].map((patch) =>
        recordRefusal(records.update('Message', message.id, patch)),
      ),
    );
    expect(refusals.map((e) => [e.code, e.field])).toEqual([
      ['RECORD_FINAL', 'status'],
      ['RECORD_FINAL', 'readAt'],
    ]);
    expect((await records.get<'Message'>(message.id))?.record).toEqual(read);
    expect(writes.map((w) => w.action)).toEqual(['update', 'update']);
  });
});
