import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  interceptedWebSocket,
  newDevice,
  openDevice,
  patientWithAllergies,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

// the TSDoc of @hale/client/advanced, `initialSync`: "done equals total only once every document of the catch-up is
// stored and can be queried". The total is counted from the stream heads listed at connect, but the pull
// pass serves every document up to each stream's head as it is then: documents another device writes
// while a new device catches up are pulled by the same pass. Each one the count left out is added to the
// total as it is to done, so the bar never reads complete (nor done over total) while pages of the
// catch-up are still to come.

const FIRST = 40;
const WRITTEN_MEANWHILE = 20;

describe('initial-sync progress while another device writes', () => {
  const server = useServer({ realClock: true });

  it('says done = total only once every document of the catch-up arrived', { timeout: 60_000 }, async () => {
    const t = server.t;
    const { patient, device: a } = await patientWithAllergies(t, server.sessions, FIRST);

    // The new device's pull pages: the first three pass, the next is held until released.
    let pages = 0;
    let delivered = 0;
    let holding = true;
    const held: Array<() => void> = [];
    const second = await newDevice(t, patient);
    const d = await openDevice(t, patient, {
      device: second,
      batchSize: 5,
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => {
          const frame = JSON.parse(text) as { t: string; docs?: unknown[] };
          if (frame.t !== 'pulled') return deliver();
          const pass = (): void => {
            pages++;
            delivered += frame.docs?.length ?? 0;
            deliver();
          };
          if (holding && pages >= 3) held.push(pass);
          else pass();
        },
      }),
    });
    server.sessions.push(d);
    let full: { delivered: number; status: string; done: number; total: number } | null = null;
    const seen: Array<{ done: number; total: number }> = [];
    d.sync.state$.subscribe((s) => {
      const { done, total } = s.initialSync;
      if (full === null && total > 0 && done === total) full = { delivered, status: s.status, done, total };
      const last = seen.at(-1);
      if (last?.done !== done || last.total !== total) seen.push(s.initialSync);
    });
    await eventually(() => pages >= 3 && held.length > 0, 'three pages applied, the fourth held');
    expect(d.sync.state().initialSync.done).toBeLessThan(d.sync.state().initialSync.total);

    // Meanwhile the first device adds more allergies; the server takes them.
    for (let i = 0; i < WRITTEN_MEANWHILE; i++) await a.records.add('Allergy', input('Allergy'));
    await allPushed(a);

    holding = false;
    for (const pass of held.splice(0)) pass();
    await waitOnline(d);
    await eventually(
      async () => (await d.records.query('Allergy')).length === FIRST + WRITTEN_MEANWHILE,
      'every allergy on the new device',
    );
    // Every one came by the catch-up's pull pass.
    expect(delivered).toBe(FIRST + WRITTEN_MEANWHILE);

    expect(full, 'progress reached done = total').not.toBeNull();
    // Said complete only once the pass had brought every document it pulled.
    expect(full!, JSON.stringify(full)).toMatchObject({ delivered: FIRST + WRITTEN_MEANWHILE });
    // The total grew with what the pass pulled past the count; neither count ever went down, and done
    // never passed the total.
    expect(d.sync.state().initialSync).toEqual({
      done: FIRST + WRITTEN_MEANWHILE,
      total: FIRST + WRITTEN_MEANWHILE,
    });
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(b.done, JSON.stringify(seen)).toBeGreaterThanOrEqual(a.done);
      expect(b.total, JSON.stringify(seen)).toBeGreaterThanOrEqual(a.total);
      expect(b.done, JSON.stringify(seen)).toBeLessThanOrEqual(b.total);
    }
  });
});
