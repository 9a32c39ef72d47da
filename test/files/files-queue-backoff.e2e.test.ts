// A queued file waiting with backoff after a failure that can pass (upload-queue.ts) keeps waiting while
// the connection stays up: a change of access (a grant to the device's account) makes the engine catch up
// (`syncing`, then `online` again) without the link going down, and that is no reconnect, so it must not
// send every waiting file at once. Against a real server: a provider's device whose announce is dropped
// gets a second grant from the patient.
import { describe, expect, it } from 'vitest';
import { createHttpApi, type FetchLike } from '@hale/client/advanced';
import { utf8Encode } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantWrite, openDevice, waitOnline } from '../support/devices';

const server = useServer({ realClock: true });

describe('the upload queue backoff across an access change', () => {
  it('a grant made while a file waits: caught up again, the file still waits (no announce before its time)', async () => {
    const { t } = server;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    // Every announce of a blob is dropped, as a lost connection for that request: OFFLINE, with `retry`.
    const announces: number[] = [];
    const dropAnnounces: FetchLike = async (url, init) => {
      if (init.method === 'POST' && new URL(url).pathname === '/v1/blobs') {
        announces.push(Date.now());
        throw new TypeError('fetch failed (the test dropped the announce)');
      }
      return fetch(url, init);
    };
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider, { api: createHttpApi({ baseUrl: t.url, fetch: dropAnnounces }) });
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await p.consent.verifyProvider(provider.accountId);
    await grantWrite(p, provider.accountId, 'lab-result', 3_600_000);
    const stream = `${patient.accountId}/lab-result`;
    await eventually(() => d.engine.whyNotWritable(stream) === null, 'the provider may write');
    await eventually(() => d.sync.state().status === 'online', 'the provider caught up');

    await d.files.enqueue({
      patientId: patient.accountId,
      type: 'lab-result',
      bytes: utf8Encode('sodium 139 mmol/L'),
      fileName: 'panel.txt',
      mediaType: 'text/plain',
    });
    await eventually(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'the announce dropped');
    const waitingUntil = Date.parse(d.files.uploads()[0]!.nextAttemptAt!);
    expect(announces).toHaveLength(1);

    // Another grant: the provider's connection is told (accessChanged), the engine catches up.
    const statuses: string[] = [];
    const seen = d.sync.state$.subscribe((s) => statuses.push(s.status));
    await grantWrite(p, provider.accountId, 'message', 3_600_000);
    await eventually(
      () => statuses.includes('syncing') && d.sync.state().status === 'online',
      'caught up again after the access change',
    );
    seen.unsubscribe();
    await new Promise((r) => setTimeout(r, 200));
    // Still before its next attempt (5 s after the failure): nothing was sent again.
    expect(Date.now()).toBeLessThan(waitingUntil);
    expect(statuses).not.toContain('offline');
    expect(announces).toHaveLength(1);
    expect(d.files.uploads()[0]?.attempts).toBe(1);
  });
});
