// A grant whose start is still ahead reaches the provider at its start on the connection it already has:
// the server serves nothing before the start, then announces the stream at it (its boundary timer), and
// the provider's device pulls the history and follows live changes — no reconnect. The patient's `list()`
// shows it `not-started`, then `active` from the start on, with no call in between.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { WebSocketLike } from '@hale/client';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const START_IN_MS = 1_500;
const HOUR = 3_600_000;

describe('a grant that starts later, on a provider device that stays connected', () => {
  const server = useServer({ realClock: true });

  it('serves nothing before the start, then the history and live changes from it, on one connection', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    // Counts the provider device's sockets: a reconnect would open another.
    let sockets = 0;
    const counted = (url: string): WebSocketLike => {
      sockets++;
      return interceptedWebSocket({})(url);
    };
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider, { createWebSocket: counted });
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const history = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await allPushed(p);

    await p.consent.verifyProvider(provider.accountId);
    const startAt = Date.now() + START_IN_MS;
    const { grant } = await p.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'lab-result', access: 'read' }],
      start: new Date(startAt).toISOString(),
      durationMs: HOUR,
      purpose: 'review at the appointment',
    });
    expect(Date.parse(grant.expiresAt) - Date.parse(grant.start)).toBe(HOUR);
    const status = async () => (await p.consent.list()).map((g) => g.status);
    const stream = `${patient.accountId}/lab-result`;
    const granted = () => d.engine.access().some((a) => a.stream === stream);

    expect(await status()).toEqual(['not-started']);
    // Before the start: nothing announced, nothing served.
    await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now() - 500)));
    expect(Date.now()).toBeLessThan(startAt);
    expect(granted()).toBe(false);
    expect(await d.records.get(history.id)).toBeNull();

    const before = Date.now();
    await eventually(
      async () => (await d.records.get(history.id)) !== null,
      'the history at the start',
      8_000,
    );
    const late = Date.now() - startAt;
    console.log(`history reached the provider ${late} ms after the grant's start`);
    expect(Date.now()).toBeGreaterThanOrEqual(startAt);
    expect(before).toBeLessThan(startAt);
    expect(granted()).toBe(true);
    expect(await status()).toEqual(['active']);

    const liveChange = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin again' }));
    await eventually(
      async () => (await d.records.get(liveChange.id)) !== null,
      'a live change after the start',
    );
    expect(sockets).toBe(1);
  });
});
