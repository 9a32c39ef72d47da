// 41 passcode guesses sent at once to one SMART Health Link (plugins/shl.ts), against a real server over
// each store: three take the link's attempts (401, remainingAttempts 2, 1, 0), the rest find it locked
// (404), and every one of the 41 is in the link's access log and in what the patient's devices are told
// (`GET /v1/shl/events`), the guesses that lost the race to the last attempt included, each with the name
// its viewer gave sealed to the patient (none in clear).
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLinkRecipient } from '@hale/crypto';
import {
  SHL_PASSCODE_ATTEMPTS,
  type ShlAccessesResponse,
  type ShlEventsResponse,
  type ShlListResponse,
} from '@hale/protocol';
import { http, startServer, type Endpoint } from './testing/harness';
import { startCouchNode, startPouchServer, type PouchServer } from './testing/couch';
import { createLink } from './shl-links.test-util';

const GUESSES = 41;

const guessAll = async (t: Endpoint) => {
  const link = await createLink(t, { passcode: '4711', label: 'For Dr. Lee' });
  const since = new Date(Date.now() - 60_000).toISOString();
  const answers = await Promise.all(
    Array.from({ length: GUESSES }, (_, i) =>
      http(t.url, 'POST', `/shl/${link.token}`, {
        recipient: `guesser ${i}`,
        passcode: String(1000 + i),
      }),
    ),
  );
  const statuses = answers.map((a) => a.status);
  expect(statuses.filter((s) => s === 401)).toHaveLength(SHL_PASSCODE_ATTEMPTS);
  expect(statuses.filter((s) => s === 404)).toHaveLength(GUESSES - SHL_PASSCODE_ATTEMPTS);
  const remaining = answers
    .filter((a) => a.status === 401)
    .map((a) => (a.body as { remainingAttempts: number }).remainingAttempts)
    .sort();
  expect(remaining).toEqual([0, 1, 2]);

  // The link's own log, as the patient lists it: every guess, once.
  const log = await http(t.url, 'GET', `/v1/shl/${link.linkId}/accesses`, undefined, link.patientToken);
  const accesses = (log.body as ShlAccessesResponse).accesses;
  expect(accesses).toHaveLength(GUESSES);
  expect(accesses.filter((a) => a.outcome === 'wrong-passcode')).toHaveLength(SHL_PASSCODE_ATTEMPTS);
  expect(accesses.filter((a) => a.outcome === 'refused')).toHaveLength(GUESSES - SHL_PASSCODE_ATTEMPTS);
  const guessers = new Set(Array.from({ length: GUESSES }, (_, i) => `guesser ${i}`));
  const named = (a: { recipient: string; sealedRecipient?: string }): string => {
    expect(a.recipient).toBe('');
    const name = openLinkRecipient(a.sealedRecipient ?? '', link.patient.keys.wrapping, link.linkId);
    return name.ok ? name.value : `unopened: ${name.error.code}`;
  };
  expect(new Set(accesses.map(named))).toEqual(guessers);

  // What the patient's devices are told: the same 41, for this one link.
  const events = await http(
    t.url,
    'GET',
    `/v1/shl/events?since=${encodeURIComponent(since)}`,
    undefined,
    link.patientToken,
  );
  const told = (events.body as ShlEventsResponse).accesses;
  expect(told).toHaveLength(GUESSES);
  expect(told.every((a) => a.linkId === link.linkId)).toBe(true);
  expect(new Set(told.map(named))).toEqual(guessers);

  const listed = await http(t.url, 'GET', '/v1/shl', undefined, link.patientToken);
  expect((listed.body as ShlListResponse).links[0]).toMatchObject({ attemptsLeft: 0, accessCount: 0 });
  // Locked: the right passcode opens nothing now, and is logged as refused too.
  expect((await http(t.url, 'POST', `/shl/${link.token}`, { recipient: 'x', passcode: '4711' })).status).toBe(
    404,
  );
};

describe('41 passcode guesses at once', () => {
  it('over SQLite: 3 take the attempts, all 41 are logged and told', async () => {
    const t = await startServer({ realClock: true });
    try {
      await guessAll(t);
    } finally {
      await t.stop();
    }
  });

  describe('over CouchDB', () => {
    let couch: PouchServer;
    beforeAll(async () => {
      couch = await startPouchServer({ inMemory: true });
    }, 30_000);
    afterAll(async () => {
      await couch.stop();
    });
    const stops: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const stop of stops.splice(0)) await stop();
    });

    it('3 take the attempts, all 41 are logged and told', async () => {
      const node = await startCouchNode(couch.url, `burst-${randomUUID()}`);
      stops.push(() => node.stop());
      await guessAll(node);
    });
  });
});
