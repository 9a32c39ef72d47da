// A grantee with write consent can sign and push the deletion of any record of a stream it may write,
// going around the records API, which refuses to remove a signed NoteSignature, a signed note, or a
// NoteVersion a signed signature attests. Such a deletion must not remove what the patient's devices
// hold: it is quarantined BAD_TRANSITION and the held version stays. A deletion the records API allows
// still applies.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/**
 * What a modified provider client does: writes the deletion of `id` straight into its store as the next
 * revision (as the records API's `remove` would, without its rules), so the engine seals, signs and
 * pushes it with the provider's real keys.
 */
const forgeDeletion = async (d: DeviceSession, id: string): Promise<void> => {
  const doc = await d.db.records.findOne(id).exec();
  if (!doc) throw new Error(`the provider does not hold ${id}`);
  await doc.incrementalModify((stored) => ({
    ...stored,
    rv: stored.rv + 1,
    updatedAt: new Date().toISOString(),
    author: d.account.device.deviceId,
    by: d.account.accountId,
    _deleted: true,
  }));
};

describe('deletions received from the server are held to the records API removal rules', () => {
  const server = useServer({ realClock: true });

  it("a grantee's deletion of a signed note, its signed version and the signature is quarantined; an allowed one applies", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider);
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await p.consent.verifyProvider(provider.accountId);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: (['note', 'note-signature'] as const).map((type) => ({ type, access: 'write' as const })),
      durationMs: HOUR,
      purpose: 'follow-up',
    });
    const patientId = patient.accountId;
    const providerId = provider.accountId;
    for (const type of ['note', 'note-signature']) {
      await eventually(() => d.engine.writable(`${patientId}/${type}`), `provider may write ${type}`);
    }
    const note = await d.records.add(
      'MedicalNote',
      { ...input('MedicalNote'), authorId: providerId, status: 'draft', currentVersionNumber: 1 },
      { patientId },
    );
    const { amendmentReason: _r, ...text } = input('NoteVersion');
    const version = await d.records.add(
      'NoteVersion',
      { ...text, noteId: note.id, versionNumber: 1, kind: 'original', editorId: providerId },
      { patientId },
    );
    const signed = {
      ...input('NoteSignature'),
      noteId: note.id,
      noteVersionId: version.id,
      signerId: providerId,
      signedVersionNumber: 1,
    };
    const signature = await d.records.add('NoteSignature', { ...signed, status: 'signed' }, { patientId });
    // A requested signature carries no signing time nor signed version (the write rules refuse them).
    const { signedAt: _signedAt, signedVersionNumber: _signedVersion, ...unsigned } = signed;
    const requested = await d.records.add(
      'NoteSignature',
      { ...unsigned, status: 'requested', requestedBy: providerId },
      { patientId },
    );
    await d.records.update('MedicalNote', note.id, { status: 'signed' });
    await allPushed(d);
    const ids = [note.id, version.id, signature.id, requested.id];
    await eventually(
      async () =>
        (await Promise.all(ids.map((id) => p.records.get(id)))).every((r) => r !== null) &&
        (await p.records.get<'MedicalNote'>(note.id))?.record.status === 'signed',
      'the signed note arrives',
    );

    // Its own records API refuses each of these removals...
    for (const id of [note.id, version.id, signature.id]) {
      await expect(d.records.remove(id)).rejects.toMatchObject({ code: 'RECORD_FINAL' });
    }
    // ...so the modified client writes them itself; the unsigned request it removes through the API.
    for (const id of [version.id, signature.id, note.id]) await forgeDeletion(d, id);
    await d.records.remove(requested.id);
    await allPushed(d);

    await eventually(
      async () => (await p.records.get(requested.id)) === null,
      'the allowed deletion applies',
    );
    const forged = [note.id, version.id, signature.id];
    await eventually(
      () => forged.every((id) => p.sync.quarantine().some((q) => q.id === id)),
      'the patient set the forged deletions aside',
    );
    expect(
      Object.fromEntries(p.sync.quarantine().map((q) => [q.id, q.reason])),
      'quarantined, and why',
    ).toEqual(Object.fromEntries(forged.map((id) => [id, 'BAD_TRANSITION'])));
    expect({
      note: (await p.records.get<'MedicalNote'>(note.id))?.record.status,
      version: (await p.records.get<'NoteVersion'>(version.id))?.record.assessment,
      signature: (await p.records.get<'NoteSignature'>(signature.id))?.record.status,
    }).toEqual({ note: 'signed', version: version.assessment, signature: 'signed' });
  });
});
