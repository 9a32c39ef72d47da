// A grant asked for with a duration ends that long after its start when it has one ("48 hours from next
// Monday"), from now otherwise. It ended `durationMs` after the moment of granting whatever the start, so a
// grant starting later than that was over before it began. The other checks of its end still hold.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { Grant } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, type ConsentDeps, type GrantRequest } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const PROVIDER = 'BBBBBBBBBBBBBBBBBBBBBB';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2031-03-05T09:30:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** A patient device whose server takes every grant; answers the grants it sent. */
const setup = () => {
  const values = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
  });
  const sent: Grant[] = [];
  const connection = {
    status: () => 'ready',
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string; grant?: { grant: Grant } }) => {
      if (frame.t === 'grant') {
        sent.push(frame.grant!.grant);
        return { t: 'ok' };
      }
      if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
      throw new Error(`unexpected ${frame.t}`);
    },
  };
  const keyring = {
    useWriteGuard: () => undefined,
    invalidateWriteChecks: () => undefined,
    envelopesFor: async () => [],
    refresh: async () => {
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: PATIENT,
    role: 'patient',
    keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {
      forget: () => undefined,
      presentedIdentity: async () => ({ key: new Uint8Array(32).fill(2), selfCertified: true }),
      wrappingKey: async () => new Uint8Array(32).fill(7),
    } as unknown as DeviceDirectory,
    now: () => NOW,
    meta,
    grantRefreshMs: 0,
  };
  return { consent: createConsent(deps), sent };
};

const request = (fields: Partial<GrantRequest>): GrantRequest => ({
  granteeId: PROVIDER,
  scope: [{ type: 'allergy', access: 'read' }],
  purpose: 'care',
  ...fields,
});

const refusal = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'granted',
    (e: unknown) => e,
  );

describe('a grant given a duration', () => {
  it('with a later start ends that long after the start', async () => {
    const { consent, sent } = setup();
    const start = NOW + 6 * DAY;
    const { grant } = await consent.grant(request({ start: iso(start), durationMs: 48 * HOUR }));
    expect(grant.start).toBe(iso(start));
    expect(grant.expiresAt).toBe(iso(start + 48 * HOUR));
    expect(sent.map((g) => g.expiresAt)).toEqual([iso(start + 48 * HOUR)]);
    expect((await consent.list()).map((g) => g.status)).toEqual(['not-started']);
  });

  it('with a start sooner than the duration is not cut short by the time until the start', async () => {
    const { consent } = setup();
    const start = NOW + HOUR;
    const { grant } = await consent.grant(request({ start: iso(start), durationMs: 2 * HOUR }));
    expect(grant.expiresAt).toBe(iso(start + 2 * HOUR));
  });

  it('with a start in the past ends that long after the start', async () => {
    const { consent } = setup();
    const start = NOW - HOUR;
    const { grant } = await consent.grant(request({ start: iso(start), durationMs: 2 * HOUR }));
    expect(grant.expiresAt).toBe(iso(start + 2 * HOUR));
    expect((await consent.list()).map((g) => g.status)).toEqual(['active']);
  });

  it('without a start ends that long from now', async () => {
    const { consent } = setup();
    const { grant } = await consent.grant(request({ durationMs: 48 * HOUR }));
    expect(grant).toMatchObject({ start: iso(NOW), expiresAt: iso(NOW + 48 * HOUR) });
  });

  const refused: Array<[string, Partial<GrantRequest>, RegExp]> = [
    // Over by now counted from its start: nothing is sent.
    ['over before it is issued', { start: iso(NOW - 2 * DAY), durationMs: DAY }, /expiresAt has passed/],
    ['a duration that is not positive', { start: iso(NOW + DAY), durationMs: 0 }, /after start/],
    ['a negative duration', { start: iso(NOW + DAY), durationMs: -HOUR }, /after start/],
    ['a duration that is no number', { durationMs: Number.NaN }, /durationMs/],
    ['a duration past what a date holds', { start: iso(NOW), durationMs: 9e15 }, /durationMs/],
    ['both an expiry and a duration', { expiresAt: iso(NOW + DAY), durationMs: DAY }, /not both/],
    ['a start that is no date', { start: 'next Monday', durationMs: DAY }, /start/],
    ['an expiry before the start', { start: iso(NOW + 2 * DAY), expiresAt: iso(NOW + DAY) }, /after start/],
  ];
  it.each(refused)('%s: BAD_EXPIRY, nothing sent', async (_, fields, message) => {
    const { consent, sent } = setup();
    const error = await refusal(consent.grant(request(fields)));
    expect(error).toMatchObject({ name: 'ConsentError', code: 'BAD_EXPIRY' });
    expect((error as Error).message).toMatch(message);
    expect(sent).toEqual([]);
  });
});
