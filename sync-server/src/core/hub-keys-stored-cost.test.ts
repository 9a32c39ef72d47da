// The server stores a patient's key envelopes addressed to any account (the patient's own devices, a
// grantee, one to be: builds older than the grant-first publishing sent a grant's envelopes before the
// grant, and still may), and announces them to the recipient's connections. Each announcement looked
// through every grant the connection holds (a clinic's provider holds one per accepted patient, tens of
// thousands) for the publishing patient's: any patient, with or without a grant to the recipient, could
// make each of its connections scan them all once per envelope frame. It is now looked up by patient
// (access.ts's index, built once per grant list): a stranger's envelopes cost a connection a lookup.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Grant } from '../store/index';
import type { Hub } from './hub';
import { hubOverStore, PATIENT, probedConnection } from './hub-store.test-util';

const GRANTS = 2_000;
const STRANGER = 'X'.repeat(22);

/** Grants to PATIENT's account from as many other patients; `reads` counts every element read of the list. */
const countedGrants = () => {
  const now = Date.now();
  const grants: Grant[] = Array.from(
    { length: GRANTS },
    (_, i) =>
      ({
        grantId: `G${String(i).padStart(21, '0')}`,
        patientId: `Q${String(i).padStart(21, '0')}`,
        granteeId: PATIENT,
        scope: [{ type: 'allergy', access: 'read' }],
        start: new Date(now - 60_000).toISOString(),
        expiresAt: new Date(now + 3600_000).toISOString(),
        purpose: 'treatment',
        issuedAt: new Date(now - 60_000).toISOString(),
        sig: 'x',
      }) as unknown as Grant,
  );
  const counter = { reads: 0 };
  const list = new Proxy(grants, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) counter.reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { list, counter };
};

describe('envelopes announced to their recipient', () => {
  let fixture: Awaited<ReturnType<typeof hubOverStore>>;
  let hub: Hub;
  beforeEach(async () => {
    fixture = await hubOverStore('hale-hub-keys-');
  });
  afterEach(async () => {
    await fixture.close();
  });

  it('cost a connection a lookup by patient, not a pass over all its grants, per envelope frame', async () => {
    const { list, counter } = countedGrants();
    ({ hub } = fixture.start({}, (service) => ({ ...service, grantsFor: async () => list })));
    const c = probedConnection();
    await hub.add(c.conn);
    const afterAdd = counter.reads;
    for (let i = 0; i < 50; i++) await hub.keysStored(PATIENT, STRANGER, [`${STRANGER}/allergy`]);
    // One pass to index the list by patient at most; 50 passes (100,000 reads) before.
    expect(counter.reads - afterAdd).toBeLessThanOrEqual(GRANTS);
    expect(c.sent).toEqual([]);
  });
});
