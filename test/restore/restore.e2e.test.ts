// The documented restore (docs/operations.md: stop, restore, start) on a real server process, with two
// real devices of one patient that keep their checkpoints across it.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { allPushed, eventually, openDevice, openTwoDevices } from '../support/devices';
import { input } from '../support/records';
import { useRestorableServer } from '../support/restorable-server';

describe('restore from a backup while devices keep their checkpoints', () => {
  const { sessions, start } = useRestorableServer('hale-restore-');

  it('records added after the restore reach a device that synced before it, and a new device', async () => {
    const { t, backup, restore } = await start();
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, sessions);

    const before = await a.records.add('Allergy', input('Allergy', { substance: 'before-backup' }));
    await allPushed(a);
    await backup();
    const after1 = await a.records.add('Allergy', input('Allergy', { substance: 'after-backup-1' }));
    const after2 = await a.records.add('Allergy', input('Allergy', { substance: 'after-backup-2' }));
    await allPushed(a);
    await eventually(async () => (await b.records.query('Allergy')).length === 3, 'b has all three');

    // Operations guide: stop (SIGTERM), restore, start. Devices stay open and reconnect.
    const restored = await restore();
    expect(restored.warnings).toEqual([]);

    const x = await a.records.add('Allergy', input('Allergy', { substance: 'after-restore-x' }));
    const y = await a.records.add('Allergy', input('Allergy', { substance: 'after-restore-y' }));
    const z = await a.records.add('Allergy', input('Allergy', { substance: 'after-restore-z' }));
    await allPushed(a);
    // b is caught up with the server once it holds z, the last one written. Its checkpoint is from before
    // the restore: the server's seqs went on above it, so x and y cannot be skipped.
    await eventually(async () => (await b.records.get(z.id)) !== null, 'b has the last record', 30_000);
    const onB = (await b.records.query('Allergy')).map((r) => r.record.id).sort();
    expect(onB).toEqual([before.id, after1.id, after2.id, x.id, y.id, z.id].sort());

    // A third device, new to the account, pulls everything the server has. after1 and after2 were
    // written after the backup: they reach the server again once a device that holds them sees the new
    // incarnation and sends them again, so the new device ends with all six, each once.
    const third = await addDevice(t, patient);
    const c = await openDevice(t, patient, { device: third });
    sessions.push(c);
    const all = [before.id, after1.id, after2.id, x.id, y.id, z.id].sort();
    await eventually(
      async () => (await c.records.query('Allergy')).length === all.length,
      'c has all six',
      30_000,
    );
    const onC = (await c.records.query('Allergy')).map((r) => r.record.id).sort();
    expect(onC).toEqual(all);
  }, 120_000);
});
