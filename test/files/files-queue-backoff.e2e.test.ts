// A queued file waiting with backoff after a failure that can pass (upload-queue.ts) keeps waiting while
// the connection stays up: a change of access (a grant to the device's account) makes the engine catch up
// (`syncing`, then `online` again) without the link going down, and that is no reconnect, so it must not
// send every waiting file at once. Against a real server: a provider's HaleSession (openHaleForTests) whose
// announces are dropped at its platform's fetch gets a second grant from the patient.
import { describe, expect, it } from 'vitest';
import type { FetchLike, HaleSession } from '@hale/client';
import { utf8Encode } from '@hale/crypto';
import { useServer } from '../support/fixture';
import { online, useHaleSessions, when } from '../client-api/hale-devices';
import { mayWrite, openFileDevice, writeGrant } from './file-parties';

const server = useServer({ realClock: true });
const sessions: HaleSession[] = useHaleSessions();

describe('the upload queue backoff across an access change', () => {
  it('a grant made while a file waits: caught up again, the file still waits (no announce before its time)', async () => {
    const { t } = server;
    // Every announce of a blob is dropped, as a lost connection for that request: OFFLINE, with `retry`.
    const announces: number[] = [];
    const dropAnnounces =
      (real: FetchLike): FetchLike =>
      async (url, init) => {
        if (init.method === 'POST' && new URL(url).pathname === '/v1/blobs') {
          announces.push(Date.now());
          throw new TypeError('fetch failed (the test dropped the announce)');
        }
        return real(url, init);
      };
    const { session: p } = await openFileDevice(t.url, sessions);
    const { session: d } = await openFileDevice(t.url, sessions, { role: 'provider', fetch: dropAnnounces });
    await Promise.all([online(p), online(d)]);
    const patientId = p.account.accountId;
    await p.consent.verifyProvider(d.account.accountId);
    await writeGrant(p, d.account.accountId, 'lab-result');
    await mayWrite(d, patientId, 'lab-result');
    await when(d.sync.state, (s) => s.status === 'online', 'the provider caught up');

    await d.files.enqueue({
      patientId,
      type: 'lab-result',
      bytes: utf8Encode('sodium 139 mmol/L'),
      fileName: 'panel.txt',
      mediaType: 'text/plain',
    });
    await when(d.files.uploads, (u) => u[0]?.lastError?.code === 'OFFLINE', 'the announce dropped');
    const waitingUntil = Date.parse(d.files.uploads.get()[0]!.nextAttemptAt!);
    expect(announces).toHaveLength(1);

    // Another grant: the provider's connection is told (accessChanged), the engine catches up.
    const statuses: string[] = [];
    const seen = d.sync.state.$.subscribe((s) => statuses.push(s.status));
    await writeGrant(p, d.account.accountId, 'message');
    await when(
      d.sync.state,
      (s) => statuses.includes('syncing') && s.status === 'online',
      'caught up again after the access change',
    );
    seen.unsubscribe();
    // A span for a wrongly released announce to be sent (nothing observable marks its absence).
    await new Promise((r) => setTimeout(r, 200));
    // Still before its next attempt (5 s after the failure): nothing was sent again.
    expect(Date.now()).toBeLessThan(waitingUntil);
    expect(statuses).not.toContain('offline');
    expect(announces).toHaveLength(1);
    expect(d.files.uploads.get()[0]?.attempts).toBe(1);
  });
});
