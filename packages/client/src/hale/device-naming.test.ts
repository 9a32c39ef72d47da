import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeviceMeta } from '../store/device-meta';
import type { AuditEntryDetail } from '../audit/audit-log';
import { createDeviceNaming, type DeviceNaming } from './device-naming';

/** A device's naming over an in-memory store, with an audit log that records what was appended. */
const setup = (options: { name?: string; patients?: string[] } = {}) => {
  const stored = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: (key) => Promise.resolve(structuredClone(stored.get(key))),
    write: (key, value) => {
      stored.set(key, structuredClone(value));
      return Promise.resolve();
    },
  });
  const state = {
    patients: options.patients ?? ['p1'],
    offline: false,
    appended: [] as { patientId: string; detail: AuditEntryDetail }[],
    own: [] as { id: string; patientId: string; body: { action: string } & Record<string, unknown> }[],
    flushes: 0,
  };
  const changes$ = new Subject<void>();
  const make = (name = options.name ?? 'Clinic desk'): DeviceNaming =>
    createDeviceNaming({
      deviceId: 'dev1',
      name,
      meta,
      patients: () => state.patients,
      changes$,
      append: (patientId, detail) => {
        if (state.offline) return Promise.reject(new Error('no wrapping key'));
        const id = `e${state.own.length + 1}`;
        state.appended.push({ patientId, detail });
        state.own.push({ id, patientId, body: { ...detail } });
        return Promise.resolve({ id });
      },
      flush: () => {
        state.flushes += 1;
        return Promise.resolve();
      },
      ownActions: () => Promise.resolve(state.own),
      retryMs: 20,
    });
  return { state, changes$, make, stored };
};

const made: DeviceNaming[] = [];
afterEach(() => {
  for (const n of made.splice(0)) n.stop();
});

const summaries = (s: ReturnType<typeof setup>['state']) =>
  s.appended.map((a) => `${a.patientId}:${a.detail.summary ?? ''}`);

describe('a device naming itself to the patients it holds grants from', () => {
  it('appends once per patient per name: at first knowing the grant, after a rename, never again for the same', async () => {
    const t = setup();
    const naming = t.make();
    made.push(naming);
    t.changes$.next();
    await naming.settled();
    expect(t.state.appended).toEqual([
      {
        patientId: 'p1',
        detail: { action: 'device-named', summary: 'Clinic desk', deviceId: 'dev1', patientId: 'p1' },
      },
    ]);
    expect(t.state.flushes).toBe(1);

    // Another patient shares; the first is not named again.
    t.state.patients = ['p1', 'p2'];
    t.changes$.next();
    await naming.settled();
    naming.named(' Clinic desk ');
    await naming.settled();
    expect(summaries(t.state)).toEqual(['p1:Clinic desk', 'p2:Clinic desk']);

    naming.named('Ward phone');
    await naming.settled();
    naming.named('Ward phone');
    t.changes$.next();
    await naming.settled();
    expect(summaries(t.state)).toEqual([
      'p1:Clinic desk',
      'p2:Clinic desk',
      'p1:Ward phone',
      'p2:Ward phone',
    ]);

    // Access ends and comes back: the patient's log keeps the name.
    t.state.patients = [];
    t.changes$.next();
    await naming.settled();
    t.state.patients = ['p1'];
    t.changes$.next();
    await naming.settled();
    expect(t.state.appended).toHaveLength(4);

    // A later session (the next start) remembers what was appended.
    naming.stop();
    const next = t.make('Ward phone');
    made.push(next);
    t.changes$.next();
    await next.settled();
    expect(t.state.appended).toHaveLength(4);
  });

  it('offline: nothing appended nor recorded; appended once it can be, without another change', async () => {
    const t = setup();
    t.state.offline = true;
    const naming = t.make();
    made.push(naming);
    t.changes$.next();
    await naming.settled();
    expect(t.state.appended).toEqual([]);
    expect(t.stored.size).toBe(0);
    t.state.offline = false;
    await new Promise((resolve) => setTimeout(resolve, 60));
    await naming.settled();
    expect(summaries(t.state)).toEqual(['p1:Clinic desk']);
  });

  it('an entry appended but not recorded (a crash between) is recorded from the own actions, not appended again', async () => {
    const t = setup();
    t.state.own.push({
      id: 'earlier',
      patientId: 'p1',
      body: { action: 'device-named', summary: 'Clinic desk', deviceId: 'dev1', patientId: 'p1' },
    });
    const naming = t.make();
    made.push(naming);
    t.changes$.next();
    await naming.settled();
    expect(t.state.appended).toEqual([]);
    expect(t.stored.get('device-named')).toEqual([
      { patientId: 'p1', name: 'Clinic desk', entryId: 'earlier' },
    ]);
    // A new name is appended as ever.
    naming.named('Ward phone');
    await naming.settled();
    expect(summaries(t.state)).toEqual(['p1:Ward phone']);
  });

  it('names nobody without a name or without a patient', async () => {
    const t = setup({ name: '  ', patients: ['p1'] });
    const naming = t.make();
    made.push(naming);
    t.changes$.next();
    await naming.settled();
    const none = setup({ patients: [] });
    const other = none.make();
    made.push(other);
    none.changes$.next();
    await other.settled();
    expect([...t.state.appended, ...none.state.appended]).toEqual([]);
  });
});
