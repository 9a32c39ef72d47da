import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import {
  eventually,
  interceptedWebSocket,
  newDevice,
  openDevice,
  patientWithAllergies,
  waitOnline,
} from '../support/devices';

const RECORDS = 40;

// Initial-sync progress only moves forward within a session: a link dropped mid-sync resumes the count
// from what was done, instead of starting over at 0 of what is left.
describe('initial-sync progress across a dropped link', () => {
  const server = useServer({ realClock: true });

  it('never goes back: done and total only grow, and end equal', { timeout: 60_000 }, async () => {
    const t = server.t;
    const { patient } = await patientWithAllergies(t, server.sessions, RECORDS);

    // The new device's pull pages: the first three pass, then none until the link is dropped.
    let pages = 0;
    let holding = true;
    const second = await newDevice(t, patient);
    const d = await openDevice(t, patient, {
      device: second,
      batchSize: 5,
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => {
          if ((JSON.parse(text) as { t: string }).t !== 'pulled') return deliver();
          if (holding && pages >= 3) return;
          pages++;
          deliver();
        },
      }),
    });
    server.sessions.push(d);
    const seen: Array<{ done: number; total: number }> = [];
    d.sync.state$.subscribe((s) => {
      const last = seen.at(-1);
      if (last?.done !== s.initialSync.done || last.total !== s.initialSync.total) seen.push(s.initialSync);
    });
    await eventually(() => pages >= 3 && d.sync.state().initialSync.done > 0, 'three pages applied');
    const before = d.sync.state().initialSync;
    expect(before.done).toBeGreaterThan(0);
    expect(before.done).toBeLessThan(before.total);

    d.sync.goOffline();
    holding = false;
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.query('Allergy')).length === RECORDS, 'every allergy');

    const end = d.sync.state().initialSync;
    expect(end.done).toBe(end.total);
    expect(end.total).toBeGreaterThanOrEqual(RECORDS);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(b.done, JSON.stringify(seen)).toBeGreaterThanOrEqual(a.done);
      expect(b.total, JSON.stringify(seen)).toBeGreaterThanOrEqual(a.total);
      expect(b.done, JSON.stringify(seen)).toBeLessThanOrEqual(b.total);
    }
  });
});
