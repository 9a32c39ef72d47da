// A clinician's list keeps the name it saw a patient under after access ends (`care.patientNames`),
// through the declared HaleSession on a real server, patient and clinician both present:
// - kept across a lock and unlock of the clinician's device, after the patient's records left it;
// - kept on that device only: the server's files never hold it in clear, the patient's session has none.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { createdSession, online, PASSPHRASE, useHaleSessions, when } from '../client-api/hale-devices';

const NAME = 'Wirasinghe Anjali Kumari';

/** Every file under `dir`, read whole. */
const filesUnder = (dir: string): Buffer[] =>
  readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [readFileSync(file)];
  });

describe("a patient's name on the clinician's device after access ends", () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('is kept, sealed on that device, across a lock; the server never holds it in clear', async () => {
    const url = server.t.url;
    const { session: patient } = await createdSession(url, sessions);
    const { session: clinician, hale } = await createdSession(url, sessions, { role: 'provider' });
    await Promise.all([online(patient), online(clinician)]);
    const patientId = patient.account.accountId;

    await patient.records.add('Profile', input('Profile', { fullName: NAME }));
    await patient.consent.verifyProvider(clinician.account.accountId);
    const grant = await patient.consent.grant({
      granteeId: clinician.account.accountId,
      scope: [{ type: 'profile', access: 'read' }],
      durationMs: 24 * 3_600_000,
      purpose: 'care',
    });
    // The clinician's screen shows the shared name and keeps it, as the app does when it shows one.
    const shown = clinician.records.list('Profile', { patientId });
    await when(shown, (p) => p.items[0]?.record.fullName === NAME, 'the clinician sees the name');
    await clinician.care.patientNames.remember(patientId, NAME);
    await clinician.care.patientNames.remember(patientId, NAME); // the same name again: nothing new

    await patient.consent.revoke(grant.grant.grantId);
    await when(
      clinician.records.list('Profile', { patientId }),
      (p) => !p.loading && p.items.length === 0,
      "the patient's records left the clinician's device",
      30_000,
    );
    await clinician.lock();
    const again = await hale.unlock({ passphrase: PASSPHRASE });
    sessions.push(again);
    const names = await when(
      again.care.patientNames.names,
      (n) => n[patientId] !== undefined,
      'the kept name read back',
    );
    expect(names).toEqual({ [patientId]: NAME });
    expect(patient.care.patientNames.names.get()).toEqual({});

    await Promise.all([patient.sync.awaitInSync(), again.sync.awaitInSync()]);
    const clear = Buffer.from(NAME);
    const holding = filesUnder(server.t.dataDir).filter((bytes) => bytes.includes(clear));
    expect(holding.length, "the server's files hold the name in clear").toBe(0);
  });

  it('refuses once locked', async () => {
    const { session: clinician } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await clinician.lock();
    await expect(clinician.care.patientNames.remember('someone', 'A name')).rejects.toMatchObject({
      code: 'LOCKED',
    });
  });
});
