import { afterEach, describe, expect, it } from 'vitest';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from './connection';
import { createSyncEngine } from './engine';
import { deviceKey, ed, keyringFor, patient, patientDevice, patientRoot } from './codec-fixture.test-util';
import { closeOpened, openTestDb, opened } from './scripted-server.test-util';

// A reporter clears its own issue once its condition ended (`clearIssues`: same code, stream and id,
// whatever the message); nothing else it kept goes. The engine is not started: issues need no connection.

afterEach(closeOpened);

const engineOf = async () => {
  const raw = new Map<string, unknown>();
  const db = await openTestDb(`clear-issues-${Math.random().toString(36).slice(2)}`);
  const engine = createSyncEngine({
    collection: db.records,
    connection: {} as Connection,
    keyring: keyringFor(patient, patientRoot, patientDevice),
    ed,
    accountId: patient.accountId,
    device: { deviceId: patientDevice.deviceId, secretKey: patientDevice.secretKey },
    lookupDeviceKey: async (account, dev) => {
      const key = await deviceKey(account, dev);
      return key ? { status: 'found', key } : { status: 'unknown' };
    },
    now: () => Date.now(),
    replicationId: 'clear-issues',
    meta: createDeviceMeta({
      read: async (key) => structuredClone(raw.get(key)),
      write: async (key, value) => {
        raw.set(key, structuredClone(value));
      },
    }),
  });
  opened.push({ engine, db });
  return engine;
};

describe('clearIssues', () => {
  it("drops the reporter's issues of that code and item, whatever their message; others stay", async () => {
    const engine = await engineOf();
    const issue = { code: 'UPLOAD_PURGE_FAILED', stream: 's/a', id: 'blob-1' };
    engine.reportIssue({ ...issue, message: 'could not be removed (disk full)' });
    engine.reportIssue({ ...issue, message: 'could not be removed (aborted)' });
    engine.reportIssue({ ...issue, id: 'blob-2', message: 'another file' });
    engine.reportIssue({ ...issue, code: 'UPLOAD_REFUSED', message: 'another code' });
    engine.reportIssue({ code: 'UPLOAD_PURGE_FAILED', id: 'blob-1', message: 'no stream' });

    engine.clearIssues(issue);
    expect(engine.state().errors.map((e) => [e.code, e.stream, e.id, e.message])).toEqual([
      ['UPLOAD_PURGE_FAILED', 's/a', 'blob-2', 'another file'],
      ['UPLOAD_REFUSED', 's/a', 'blob-1', 'another code'],
      ['UPLOAD_PURGE_FAILED', undefined, 'blob-1', 'no stream'],
    ]);
    // Nothing to clear: the state is left as it is.
    const before = engine.state();
    engine.clearIssues(issue);
    expect(engine.state()).toBe(before);
  });
});

describe('issues from error frames the server sent unasked', () => {
  it('keep at most 5, the oldest going first: a flood cannot push out what the device raised', async () => {
    const engine = await engineOf();
    engine.reportIssue({ code: 'UNSENT_PURGED', stream: 's/a', message: 'raised by this device' });
    for (let i = 0; i < 60; i++) {
      engine.onFrame({ t: 'error', code: 'CONSENT_REVOKED', message: `noise ${i}` });
    }
    const kept = engine.state().errors.map((e) => e.message);
    expect(kept).toEqual([
      'raised by this device',
      'noise 55',
      'noise 56',
      'noise 57',
      'noise 58',
      'noise 59',
    ]);
    // Nor can claims about streams: ends of streams this device never held are not told, and claims
    // about its own streams are capped as the server's errors are.
    for (let i = 0; i < 60; i++) {
      engine.onFrame({
        t: 'accessChanged',
        streams: [
          {
            stream: `${patient.accountId}/allergy`,
            patientId: patient.accountId,
            type: 'allergy',
            access: 'read',
            head: 0,
            epoch: 0,
            expiresAt: new Date(Date.now() + (i + 1) * 60_000).toISOString(),
          },
        ],
        removed: [{ stream: `${String(i).padStart(22, 'X')}/allergy`, reason: 'revoked' }],
      });
    }
    await new Promise((r) => setTimeout(r, 50));
    const codes = engine.state().errors.map((e) => e.code);
    expect(codes[0]).toBe('UNSENT_PURGED');
    expect(engine.state().errors.some((e) => e.message.includes('XXXX'))).toBe(false);
    expect(codes).toContain('OWN_ACCESS_REFUSED');
    expect(codes.filter((c) => c !== 'UNSENT_PURGED')).toHaveLength(5);
    // Issues the device raises still take the room left (MAX_ERRORS in all).
    for (let i = 0; i < 60; i++) engine.reportIssue({ code: 'PURGE_FAILED', message: `device ${i}` });
    expect(engine.state().errors).toHaveLength(50);
  });
});

describe('at a new connection', () => {
  it("drops what the server said unasked to come back later, keeps the rest (its other claims, the device's own)", async () => {
    const engine = await engineOf();
    engine.reportIssue({ code: 'UNSENT_PURGED', stream: 's/a', message: 'raised by this device' });
    engine.onFrame({ t: 'error', code: 'UNAVAILABLE', message: 'server shutting down' });
    engine.onFrame({ t: 'error', code: 'RATE_LIMITED', message: 'slow down' });
    engine.onFrame({ t: 'error', code: 'CONSENT_REVOKED', message: 'a claim that stands' });
    // The device's own UNAVAILABLE (not from an unasked frame) is the reporter's to clear.
    engine.reportIssue({ code: 'UNAVAILABLE', id: 'blob-1', message: 'an upload refused for now' });
    // No connection behind this engine: the listing after the drop fails, which is not what is looked at.
    await engine.onReady().catch(() => undefined);
    expect(engine.state().errors.map((e) => [e.code, e.message])).toEqual([
      ['UNSENT_PURGED', 'raised by this device'],
      ['CONSENT_REVOKED', 'a claim that stands'],
      ['UNAVAILABLE', 'an upload refused for now'],
    ]);
  });
});
