// A provider's signature covers a record's revision tag, and the tag is a keyed hash of the content. The
// server only sees ciphertext, and any holder of the stream key (here a read-only grantee, as a revoked
// one or the patient could be) can seal other content beside the provider's tag. Readers recompute the
// tag of a signed version from what they opened: the swapped content is quarantined, never shown as the
// provider's.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, keyIdBytes, openRecordVersion, sealSecretbox, unwrapKey } from '@hale/crypto';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

/** The key the server's envelope for `recipient` opens to, for (stream, epoch). */
const envelopeKey = (
  t: TestServer,
  stream: string,
  recipient: { accountId: string; root: Uint8Array },
  epoch: number,
) => {
  const row = t.store.db
    .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
    .get(stream, recipient.accountId, epoch) as { wrapped: string } | undefined;
  if (!row) throw new Error(`no envelope for ${recipient.accountId} at epoch ${epoch}`);
  const key = unwrapKey(row.wrapped, deriveAccountKeys(recipient.root).wrapping, { stream, epoch });
  if (!key.ok) throw new Error(`cannot open the envelope: ${key.error.code}`);
  return key.value;
};

describe('a signed record whose content was swapped by a holder of the stream key', () => {
  const server = useServer({ realClock: true });

  it("a provider's lab result, resealed with another value by a read-only grantee and served, is quarantined", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const reader = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider);
    const r = await openDevice(t, reader);
    server.sessions.push(p, d, r);
    await Promise.all([waitOnline(p), waitOnline(d), waitOnline(r)]);
    const patientId = patient.accountId;
    const stream = `${patientId}/lab-result`;

    await p.consent.verifyProvider(provider.accountId);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'lab-result', access: 'write' }],
      durationMs: 24 * HOUR,
      purpose: 'follow-up',
    });
    await p.consent.verifyProvider(reader.accountId);
    await grantRead(p, reader.accountId, 'lab-result', 24 * HOUR, 'second opinion');
    await eventually(() => d.engine.writable(stream), 'provider may write lab results');

    // The provider writes a signed lab result: glucose 98.
    const lab = await d.records.add('LabResult', input('LabResult', { value: 98 }), { patientId });
    await allPushed(d);
    await eventually(async () => (await p.records.get(lab.id)) !== null, 'patient has the lab result');
    await eventually(async () => (await r.records.get(lab.id)) !== null, 'reader has the lab result');
    const row = t.store.db.prepare('SELECT rev, epoch, ct, sig FROM docs WHERE id = ?').get(lab.id) as {
      rev: string;
      epoch: number;
      ct: Buffer;
      sig: string | null;
    };
    expect(row.sig).not.toBeNull();

    // The read-only grantee opens the version with the key it was given and seals glucose 412 beside the
    // provider's tag; the server stores it in place of the genuine ciphertext (rev, author, signature kept).
    const key = envelopeKey(t, stream, reader, row.epoch);
    const rv = Number(row.rev.split('-')[0]);
    const opened = openRecordVersion(key, new Uint8Array(row.ct), {
      stream,
      id: lab.id,
      epoch: row.epoch,
      rev: rv,
    });
    if (!opened.ok) throw new Error(`grantee cannot open: ${opened.error.code}`);
    const content = opened.value.data as { data: Record<string, unknown> };
    const forged = { ...content, data: { ...content.data, value: 412, status: 'final' } };
    const body = { v: 1, s: stream, i: lab.id, e: row.epoch, r: rv, t: row.rev, x: false, d: forged };
    const ct = sealSecretbox(Uint8Array.of(1, ...keyIdBytes(key)), key, JSON.stringify(body));
    t.store.db.prepare('UPDATE docs SET ct = ? WHERE id = ?').run(Buffer.from(ct), lab.id);

    // Another device of the patient syncs the stream from the server: the forgery is quarantined.
    const q = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(q);
    await eventually(
      async () => q.sync.quarantine().some((x) => x.id === lab.id) || (await q.records.get(lab.id)) !== null,
      'patient device took or quarantined the served version',
    );
    await waitOnline(q);
    // Without the check, the device shows glucose 412 as the provider's signed result.
    expect((await q.records.get<'LabResult'>(lab.id))?.record.value).toBeUndefined();
    expect(q.sync.quarantine().map((x) => [x.id, x.stream, x.reason])).toEqual([[lab.id, stream, 'BAD_TAG']]);
    expect(await q.records.get(lab.id)).toBeNull();
    expect(await q.records.query('LabResult')).toEqual([]);
    // The device that took the genuine version keeps it.
    expect((await p.records.get<'LabResult'>(lab.id))?.record.value).toBe(98);
  });
});
