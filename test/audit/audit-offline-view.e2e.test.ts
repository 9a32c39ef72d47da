// "Who accessed my records" with the device offline: without the option the view refuses (STOPPED) or
// waits as before; with `{ offline: 'cached' }` it answers what this device verified, as of its last read,
// marked incomplete, and once back online the log read now.
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { patientWithAuditedGrant, waitOnline } from '../support/devices';

describe('audit views offline end to end', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('answers from what the device verified, marked as of its last read, and fresh again online', async () => {
    const { provider, p } = await patientWithAuditedGrant(server.t, sessions);
    const before = Date.now();
    const who = await p.audit.whoAccessed();
    const disclosures = await p.audit.disclosures();
    expect(who.some((w) => w.actorId === provider.accountId && w.source === 'server')).toBe(true);

    p.sync.goOffline();
    await expect(p.audit.whoAccessed()).rejects.toMatchObject({ code: 'STOPPED' });
    const offline = await p.audit.whoAccessed({ offline: 'cached' });
    expect(offline).toMatchObject({ records: who, complete: false, reason: 'offline' });
    // As of the last view's read (the disclosures above), never later than now.
    expect(Date.parse(offline.asOf)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(offline.asOf)).toBeLessThanOrEqual(Date.now());
    expect(await p.audit.disclosures({ offline: 'cached' })).toMatchObject({
      records: disclosures,
      complete: false,
    });

    p.sync.goOnline();
    await waitOnline(p);
    const fresh = await p.audit.whoAccessed({ offline: 'cached' });
    expect(fresh.complete).toBe(true);
    expect(fresh.records.length).toBeGreaterThanOrEqual(who.length);
  });
});
