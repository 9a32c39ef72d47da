// The SMART Health Link live notice across nodes: a patient device waiting on node C
// (`GET /v1/shl/events`) is answered when a viewer opens the link through node B, or gets a passcode
// wrong there — long before its wait ends, because node C hears the access on the CouchDB log's `_changes`
// feed (no second message bus). The test starts the access only once C's request has read nothing and is
// waiting, and fails if the answer comes only when the wait runs out. The viewer's name comes sealed to the
// patient.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openLinkRecipient } from '@hale/crypto';
import type { ShlEventsResponse, ShlLinkInfo } from '@hale/protocol';
import { http, registerAccount, sessionToken } from '@hale/sync-server/testing';
import type { CouchNode } from '@hale/sync-server/testing/couch';
import { useCouchCluster } from './support';

const cluster = useCouchCluster();

/** Longer than the test may take: an answer only at its end fails the test by its timeout. */
const WAIT_MS = 30_000;

/** Resolves when node `n`'s next events request has read (and found nothing), i.e. is about to wait. */
const nextEmptyRead = (n: CouchNode): Promise<void> =>
  new Promise((resolve) => {
    const shl = n.store.shl;
    const read = shl.accessesSince.bind(shl);
    shl.accessesSince = async (...args) => {
      const found = await read(...args);
      if (found.length === 0) {
        shl.accessesSince = read;
        resolve();
      }
      return found;
    };
  });

/** Starts a held events request on `n` and resolves once it waits (its answer in a box: not awaited here). */
const waitForAccess = async (n: CouchNode, token: string, since: string) => {
  const reading = nextEmptyRead(n);
  const answer = http(
    n.url,
    'GET',
    `/v1/shl/events?since=${encodeURIComponent(since)}&waitMs=${WAIT_MS}`,
    undefined,
    token,
  );
  await reading;
  return { answer };
};

describe('the SMART Health Link notice across nodes', () => {
  it('a device waiting on node C hears an opening and a wrong passcode made through node B', async () => {
    const [a, b, c] = await cluster.startNodes(3, 'shl');
    const patient = await registerAccount(a);
    const onA = await sessionToken(a, patient.device);
    const onC = await sessionToken(c, patient.device);
    const linkToken = randomBytes(32).toString('base64url');
    const created = await http(
      a.url,
      'POST',
      '/v1/shl',
      {
        linkId: randomBytes(16).toString('base64url'),
        token: linkToken,
        passcode: '4711',
        emergency: false,
        contents: [{ type: 'allergy', count: 1 }],
        contentType: 'application/fhir+json',
        jwe: 'eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn',
      },
      onA,
    );
    expect(created.status).toBe(200);
    const linkId = (created.body as ShlLinkInfo).linkId;
    const since = new Date(Date.now() - 1000).toISOString();
    const told = (answer: { body: unknown }) =>
      (answer.body as ShlEventsResponse).accesses.map((x) => {
        const name = openLinkRecipient(x.sealedRecipient ?? '', patient.keys.wrapping, linkId);
        return { linkId: x.linkId, outcome: x.outcome, recipient: x.recipient, name: name.ok && name.value };
      });

    const first = await waitForAccess(c, onC, since);
    const started = Date.now();
    const opened = await http(b.url, 'POST', `/shl/${linkToken}`, { recipient: 'Dr. Lee', passcode: '4711' });
    expect(opened.status).toBe(200);
    const heard = await first.answer;
    expect(heard.status).toBe(200);
    expect(told(heard)).toEqual([{ linkId, outcome: 'opened', recipient: '', name: 'Dr. Lee' }]);
    expect(Date.now() - started).toBeLessThan(WAIT_MS / 2);

    const after = (heard.body as ShlEventsResponse).accesses[0]?.at ?? since;
    const second = await waitForAccess(c, onC, after);
    const wrong = await http(b.url, 'POST', `/shl/${linkToken}`, { recipient: 'someone', passcode: '0000' });
    expect(wrong.status).toBe(401);
    const heardAgain = await second.answer;
    expect(told(heardAgain)).toEqual([{ linkId, outcome: 'wrong-passcode', recipient: '', name: 'someone' }]);
  }, 25_000);
});
