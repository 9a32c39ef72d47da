import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '@hale/crypto/node';
import { patientKeyName } from './audit-log';
import { appendAcknowledged, providerAudit } from './audit-log.test-util';

// Node's: one test signs over 100 entries.
const ed = createNodeEd25519();
const DAY = 24 * 3600_000;
const A = 'incarnation-before-0';
const B = 'incarnation-after-00';

/**
 * A provider device appending to a patient's log, against a server that stores what it takes, answers a
 * re-push of a stored entry `ok` (as the server does), and refuses a grantee's read of the log.
 */
const setup = () => {
  const f = providerAudit({ pulls: 'deny', ed });
  const patientId = f.patients[0]!.accountId;
  return {
    open: f.open,
    patientId,
    localKey: f.provider.localKey,
    cut: f.server.cut,
    /** Positions of the patient's log as stored, in the order stored. */
    positions: () => f.server.positions(`${patientId}/audit`),
    /** The patient's log as stored, verified as a patient's device would (no position known from elsewhere). */
    verifyStored: f.verifyStored,
    pushedCount: () => f.server.pushes.flat().length,
    reads: f.server.reads,
    setRefuse: (code: string | null) => f.server.setDecide(() => (code === null ? 'ok' : { code })),
    advance: f.advance,
    failNextWrite: f.failNextWrite,
  };
};

const gaps = (v: { problems: ReadonlyArray<{ kind: string; authorSeq: number }> }): number[] =>
  v.problems.filter((p) => p.kind === 'deleted').map((p) => p.authorSeq);

describe("audit: a provider device's chain in a patient's log after a restore of the server", () => {
  it('announced: the acknowledged entries go out again ahead of the next, so the chain is whole (no read of the log)', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.patientId, ['one', 'two', 'three']);
    expect(s.positions()).toEqual([1, 2, 3]);

    // Restored from a backup that ends at position 1; the provider appends again.
    s.cut(1);
    await log.connected(B);
    // Nothing to push for the patient: nothing is sent again (a server announcing a new incarnation at
    // every connection costs no re-push each time).
    const before = s.pushedCount();
    await log.flush();
    expect(s.pushedCount()).toBe(before);
    await log.append(s.patientId, { action: 'four' });
    await log.flush();
    expect(s.positions()).toEqual([1, 2, 3, 4]);
    expect((await s.verifyStored()).ok).toBe(true);
    // Sent again: the three kept (the one stored is acknowledged as before), then the new one.
    expect(s.pushedCount() - before).toBe(4);
    expect(s.reads()).toBe(0);
    expect(await log.pendingCount()).toBe(0);
    expect(log.issues()).toEqual([expect.stringMatching(/^AUDIT_RESENT: .* 3 audit entries/)]);

    // Once per restore: the same incarnation again sends only what is new.
    await log.connected(B);
    await log.append(s.patientId, { action: 'five' });
    const again = s.pushedCount();
    await log.flush();
    expect(s.pushedCount() - again).toBe(1);
    expect(s.positions()).toEqual([1, 2, 3, 4, 5]);
  });

  it('cut with no restore announced: nothing is sent again, the gap stays for the patient to see', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.patientId, ['one', 'two']);
    s.cut(1);
    await log.connected(A);
    await log.append(s.patientId, { action: 'three' });
    await log.flush();
    expect(s.positions()).toEqual([1, 3]);
    expect(gaps(await s.verifyStored())).toEqual([3]);
    expect(log.issues().some((i) => i.startsWith('AUDIT_RESENT'))).toBe(false);
  });

  it('entries sent again and refused for good are dropped, the chain not moved back over them; the rows after them are given up as any', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.patientId, ['one', 'two']);
    s.cut(1);
    await log.connected(B);
    s.setRefuse('NO_CONSENT');
    await log.append(s.patientId, { action: 'three' });
    for (let i = 0; i < 3; i++) {
      await log.flush();
      s.advance(3 * DAY);
    }
    // Within the give-up bounds (7 days, 3 refusals): all held, the grant may be renewed.
    expect(await log.undelivered()).toEqual([
      expect.objectContaining({ patientId: s.patientId, entries: 3, code: 'NO_CONSENT', maybeStored: true }),
    ]);
    await log.flush();
    // Past them: positions 1–2 (acknowledged before the restore) are dropped where they are, and position 3
    // is given up, the chain going on from 2.
    expect(await log.pendingCount()).toBe(0);
    expect(await log.undelivered()).toEqual([]);
    expect(log.issues().filter((i) => /^AUDIT_(RESENT_DROPPED|GIVEN_UP)/.test(i))).toEqual([
      expect.stringMatching(/^AUDIT_RESENT_DROPPED: 2 audit entries .* \(positions 1–2\)/),
      expect.stringMatching(
        /^AUDIT_GIVEN_UP: 1 audit entry .* \(positions 3–3\).* continues from position 2$/,
      ),
    ]);
    // Access is back: the next entry takes position 3, linked to 2, no position taken twice; 2, lost with
    // the restore, is the gap the patient's devices report.
    s.setRefuse(null);
    await log.append(s.patientId, { action: 'four' });
    await log.flush();
    expect(s.positions()).toEqual([1, 3]);
    expect(gaps(await s.verifyStored())).toEqual([3]);
  });

  it('a crash between queueing the entries and recording the restore queues each once', async () => {
    const s = setup();
    const log = await appendAcknowledged(s.open(), A, s.patientId, ['one', 'two']);
    s.cut(0);
    await log.append(s.patientId, { action: 'three' });
    // The outbox holds the entries queued again; the record of the restore is lost, and so is the push.
    s.failNextWrite(patientKeyName(s.localKey, 'audit-kept', s.patientId));
    await log.connected(B);
    expect(s.positions()).toEqual([]);
    expect(await log.pendingCount()).toBe(3);
    const restarted = s.open();
    await restarted.connected(B);
    expect(await restarted.pendingCount()).toBe(0);
    expect(s.positions()).toEqual([1, 2, 3]);
    expect((await s.verifyStored()).ok).toBe(true);
  });

  it('keeps only the newest acknowledged entries (100): a restore that lost older ones leaves their gap', async () => {
    const s = setup();
    const log = s.open();
    await log.connected(A);
    for (let i = 1; i <= 105; i++) {
      await log.append(s.patientId, { action: `n${i}` });
      if (i % 25 === 0) await log.flush();
    }
    await log.flush();
    s.cut(0);
    await log.connected(B);
    await log.append(s.patientId, { action: 'after' });
    await log.flush();
    expect(s.positions()).toEqual(Array.from({ length: 101 }, (_, i) => i + 6));
    expect(gaps(await s.verifyStored())).toEqual([6]);
  }, 60_000);

  it('keeps at most about 128 KiB of sealed bodies per patient', async () => {
    /** A coalesced entry of 125 changes with long ids: about 25 KB sealed. */
    const large = (n: number) => ({
      action: 'records-changed',
      changes: Array.from({ length: 125 }, (_, i) => ({
        action: 'update' as const,
        kind: 'lab-result',
        id: `${n}-${i}-`.padEnd(120, 'x'),
      })),
    });
    const s = setup();
    const log = await appendAcknowledged(
      s.open(),
      A,
      s.patientId,
      Array.from({ length: 8 }, (_, n) => large(n + 1)),
    );
    s.cut(0);
    await log.connected(B);
    await log.append(s.patientId, { action: 'after' });
    await log.flush();
    const sent = s.positions();
    console.log(`8 entries of ~25 KB acknowledged; sent again after the restore: ${sent.join(',')}`);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.length).toBeLessThan(8);
    expect(sent).toEqual(sent.map((_, i) => 9 - sent.length + 1 + i));
  });
});
