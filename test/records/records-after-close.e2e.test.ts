// The records API after its session was closed: reads refuse with the typed error, live views end.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { isAccountError } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { openDevice } from '../support/devices';
import { input } from '../support/records';

const refusal = async (call: () => Promise<unknown>): Promise<unknown> => {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('records of a closed session', () => {
  const server = useServer({ realClock: true });

  // the TSDoc of @hale/client/advanced (Files): "Locked account or closed session: `AccountError` `LOCKED`, as everywhere."
  it('get, query, conflicts and observe after close() refuse with AccountError LOCKED, not a raw RxError', async () => {
    const patient = await registerAccount(server.t);
    const a = await openDevice(server.t, patient, { offline: true });
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await a.close();
    const errors = {
      get: await refusal(() => a.records.get(added.id)),
      query: await refusal(() => a.records.query('Allergy')),
      conflicts: await refusal(() => a.records.conflicts()),
      observe: await refusal(async () => a.records.observe('Allergy')),
    };
    for (const [call, error] of Object.entries(errors)) {
      expect({ call, locked: isAccountError(error) && error.code === 'LOCKED' }).toEqual({
        call,
        locked: true,
      });
    }
  });

  it('a live observe() settles (completes or errors) when its session closes, rather than staying open forever', async () => {
    const patient = await registerAccount(server.t);
    const a = await openDevice(server.t, patient, { offline: true });
    await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const events: string[] = [];
    const sub = a.records.observe('Allergy').subscribe({
      next: (list) => events.push(`next ${list.length}`),
      error: () => events.push('error'),
      complete: () => events.push('complete'),
    });
    await new Promise((r) => setTimeout(r, 50));
    await a.close();
    await new Promise((r) => setTimeout(r, 200));
    const settled = events.includes('complete') || events.includes('error');
    sub.unsubscribe();
    expect({ events, settled }).toMatchObject({ settled: true });
  });
});
