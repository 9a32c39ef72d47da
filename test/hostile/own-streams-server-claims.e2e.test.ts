// A patient's device never ends access to its own account's streams on the server's word. Before, a
// server (broken, hostile, or anyone in the middle) could make it delete the patient's own records, unsent
// edits included, with one frame: an `accessChanged` removing an own stream, a stream list leaving the own
// streams out, or a `pulled` reply denying one. Such a claim is now refused and reported
// (OWN_ACCESS_REFUSED); nothing is removed, and the edit goes out once the server behaves.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

type Frame = { t: string; [k: string]: unknown };

describe("claims about a device's own streams", () => {
  const server = useServer({ realClock: true });

  /** A patient device whose received frames `rewrite` may change, with a medication it holds. */
  const patientDevice = async (rewrite: (frame: Frame) => Frame) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const control = {
      on: false,
      /** Pushes are dropped (never reach the server): an edit stays unsent while the link is up. */
      holdPushes: false,
      inject: undefined as ((text: string) => void) | undefined,
    };
    const device = await openDevice(t, patient, {
      createWebSocket: interceptedWebSocket({
        sent: (text, send) => {
          if (control.holdPushes && (JSON.parse(text) as Frame).t === 'push') return;
          send(text);
        },
        received: (text, deliver) => {
          control.inject = (x) => deliver(x);
          if (!control.on) return deliver();
          deliver(JSON.stringify(rewrite(JSON.parse(text) as Frame)));
        },
      }),
    });
    server.sessions.push(device);
    await waitOnline(device);
    const med = await device.records.add(
      'Medication',
      input('Medication', { name: 'Placebo', dose: '1 mg' }),
    );
    await allPushed(device);
    return { device, control, med, stream: `${patient.accountId}/medication`, patient };
  };

  const expectKept = async (device: DeviceSession, id: string, dose: string) => {
    const held = await device.records.get(id);
    expect(held?.record).toMatchObject({ dose });
    const codes = device.sync.state().errors.map((e) => e.code);
    expect(codes).toContain('OWN_ACCESS_REFUSED');
    expect(codes).not.toContain('CONSENT_REVOKED');
    expect(codes).not.toContain('UNSENT_PURGED');
  };

  it('an accessChanged removing an own stream: refused, records and an unsent edit kept', async () => {
    const { device, control, med, stream } = await patientDevice((f) => f);
    control.holdPushes = true;
    await device.records.update('Medication', med.id, { dose: 'unsent 2 mg' });
    control.inject!(
      JSON.stringify({ t: 'accessChanged', streams: [], removed: [{ stream, reason: 'revoked' }] }),
    );
    await eventually(
      () => device.sync.state().errors.some((e) => e.code === 'OWN_ACCESS_REFUSED'),
      'the claim refused',
    );
    await new Promise((r) => setTimeout(r, 300));
    await expectKept(device, med.id, 'unsent 2 mg');
    // The edit goes out once pushes reach the server again.
    control.holdPushes = false;
    device.sync.goOffline();
    device.sync.goOnline();
    await allPushed(device);
    await expectKept(device, med.id, 'unsent 2 mg');
  });

  it('a stream list leaving the own streams out, or one with an end: refused, records kept', async () => {
    const { device, control, med } = await patientDevice((f) =>
      f.t !== 'streams'
        ? f
        : {
            ...f,
            streams: (f.streams as Array<Record<string, unknown>>)
              .filter((s) => !String(s.stream).endsWith('/medication'))
              .map((s) => ({ ...s, access: 'read', expiresAt: new Date(Date.now() - 1000).toISOString() })),
          },
    );
    device.sync.goOffline();
    await device.records.update('Medication', med.id, { dose: 'unsent 3 mg' });
    control.on = true;
    device.sync.goOnline();
    await eventually(
      () => device.sync.state().errors.some((e) => e.code === 'OWN_ACCESS_REFUSED'),
      'the claim refused',
    );
    await new Promise((r) => setTimeout(r, 500));
    await expectKept(device, med.id, 'unsent 3 mg');
    // The own streams listed narrowed stay owned: still written to, not ended at the past end given.
    const allergy = await device.records.add('Allergy', input('Allergy', { substance: 'latex' }));
    await new Promise((r) => setTimeout(r, 300));
    expect(await device.records.get(allergy.id)).not.toBeNull();
    // Still writable: the edit goes out once the server lists the stream again.
    control.on = false;
    device.sync.goOffline();
    device.sync.goOnline();
    await allPushed(device);
    expect(device.sync.state().pendingWrites).toBe(0);
  });

  it('a pulled reply denying an own stream: refused, records kept', async () => {
    let stream = '';
    const { device, control, med, ...rest } = await patientDevice((f) =>
      f.t === 'pulled'
        ? {
            ...f,
            denied: [...(f.denied as unknown[]), { stream, code: 'CONSENT_REVOKED', message: 'revoked' }],
          }
        : f,
    );
    stream = rest.stream;
    control.on = true;
    device.sync.goOffline();
    device.sync.goOnline();
    await eventually(
      () => device.sync.state().errors.some((e) => e.code === 'OWN_ACCESS_REFUSED'),
      'the claim refused',
    );
    await expectKept(device, med.id, '1 mg');
  });

  it('a first connection whose stream list holds none of the own streams: told, not a silent wait', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const device = await openDevice(t, patient, {
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => {
          const f = JSON.parse(text) as Frame;
          if (f.t !== 'streams') return deliver();
          const { next: _next, ...rest } = f;
          deliver(JSON.stringify({ ...rest, streams: [] }));
        },
      }),
    });
    server.sessions.push(device);
    await eventually(
      () =>
        device.sync
          .state()
          .errors.some((e) => e.code === 'OWN_ACCESS_REFUSED' && /holds none/.test(e.message)),
      'the empty list told',
    );
  });
});
