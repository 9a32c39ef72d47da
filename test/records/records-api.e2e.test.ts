import { describe, expect, it } from 'vitest';
import { firstValueFrom, filter } from 'rxjs';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice } from '../support/devices';
import { input, recordRefusal } from '../support/records';

// The typed record API refuses what it must not store, with a code and a message naming the field, and
// stores nothing when it refuses.
describe('record API refusals', () => {
  const server = useServer();
  const sessions = server.sessions;

  const patientDevice = async () => {
    const patient = await registerAccount(server.t);
    const device = await openDevice(server.t, patient);
    sessions.push(device);
    await eventually(() => device.sync.state().status === 'online', 'online');
    return device;
  };

  it('invalid input names the field, and nothing is stored or queued', async () => {
    const d = await patientDevice();
    const before = d.sync.state().pendingWrites;
    const e = await recordRefusal(d.records.add('Allergy', { ...input('Allergy'), substance: '' }));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toContain('substance');
    expect(e.detail?.issues.some((i) => i.field === 'substance')).toBe(true);
    expect(await d.records.query('Allergy')).toHaveLength(0);
    expect(d.sync.state().pendingWrites).toBe(before);
  });

  it('an invalid update leaves the record as it was', async () => {
    const d = await patientDevice();
    const med = await d.records.add('Medication', input('Medication', { name: 'Metformin', dose: '500 mg' }));
    const e = await recordRefusal(d.records.update('Medication', med.id, { name: '' }));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toContain('name');
    const stored = (await d.records.get<'Medication'>(med.id))!;
    expect(stored.record.name).toBe('Metformin');
    expect(stored.rv).toBe(1);
  });

  it('wrong kind, unknown id, kinds kept outside streams, and a reused id are refused with their codes', async () => {
    const d = await patientDevice();
    const allergy = await d.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    expect((await recordRefusal(d.records.update('Medication', allergy.id, { name: 'x' }))).code).toBe(
      'KIND_MISMATCH',
    );
    expect((await recordRefusal(d.records.update('Allergy', 'no-such-id', { substance: 'x' }))).code).toBe(
      'NOT_FOUND',
    );
    expect((await recordRefusal(d.records.remove('no-such-id'))).code).toBe('NOT_FOUND');
    expect((await recordRefusal(d.records.add('Consent', input('Consent')))).code).toBe('NOT_STORABLE');

    // A second add with the same id must not replace the first record.
    const again = await recordRefusal(
      d.records.add('Allergy', { ...input('Allergy', { substance: 'Peanut' }), id: allergy.id }),
    );
    expect(again.code).toBe('ALREADY_EXISTS');
    const stored = (await d.records.get<'Allergy'>(allergy.id))!;
    expect(stored.record.substance).toBe('Latex');
    expect(stored.rv).toBe(1);
  });

  it('observe emits the stored records as they change', async () => {
    const d = await patientDevice();
    const seen = firstValueFrom(
      d.records
        .observe('Allergy')
        .pipe(filter((list) => list.some((r) => r.record.substance === 'Bee venom'))),
    );
    await d.records.add('Allergy', input('Allergy', { substance: 'Bee venom' }));
    expect((await seen).map((r) => r.record.substance)).toContain('Bee venom');
  });
});
