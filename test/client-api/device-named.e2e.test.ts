// A clinician's device names itself to the patient, sealed, through `openHale` against a real server, the
// patient and the clinician open at once: the patient's access data names the clinician's device as the
// clinician named it (its first name, then each rename, one entry per name), a device of another account
// claiming a name for a device not its own is ignored, and neither the server's files nor its logs hold
// the name in clear.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  hexEncode,
  sealTo,
  sha256,
  signCanonical,
} from '@hale/crypto';
import { auditSignaturePayload, type AuditEntryBody, type PushDoc } from '@hale/protocol';
import type { AccessRecord, HaleSession } from '@hale/client';
import { newId } from '@hale/model';
import { createLogger } from '@hale/sync-server';
import {
  addDevice,
  connect,
  ed,
  getAccountAnswer,
  insertRawGrants,
  outcomeOf,
  pushNew,
  registerAccount,
  type Endpoint,
  type TestAccount,
  type TestDevice,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { createdSession, online, useHaleSessions, when } from './hale-devices';

const DAY = 24 * 3_600_000;
const marker = Math.random().toString(36).slice(2, 10);
const DESK = `Clinic desk ${marker}`;
const PHONE = `Ward phone ${marker}`;
const FORGED = [`Forged name ${marker}`, `Forged desk ${marker}`];

/** The patient's access records, read again until `check` holds. */
const accessUntil = async (
  patient: HaleSession,
  check: (records: readonly AccessRecord[]) => boolean,
  what: string,
): Promise<readonly AccessRecord[]> => {
  const ticking = setInterval(() => patient.audit.refresh(), 500);
  try {
    const answer = await when(patient.audit.access, (a) => a !== null && check(a.records), what, 30_000);
    return answer?.records ?? [];
  } finally {
    clearInterval(ticking);
  }
};

/**
 * An entry `author` (a device of `account`) signs in `patientId`'s log, sealed to the patient, saying that
 * `named` is called `name`: what a device of another account may try.
 */
const forgedNaming = async (
  t: Endpoint,
  account: TestAccount,
  author: TestDevice,
  patientId: string,
  named: string,
  name: string,
): Promise<PushDoc> => {
  const wrapping = base64urlDecode((await getAccountAnswer(t, patientId)).wrappingPublicKey);
  if (!wrapping.ok) throw new Error('no wrapping key');
  const at = new Date().toISOString();
  const body: AuditEntryBody = {
    kind: 'AuditEntry',
    action: 'device-named',
    actorId: account.accountId,
    actorDeviceId: author.deviceId,
    at,
    summary: name,
    deviceId: named,
    patientId,
  };
  const ct = sealTo(wrapping.value, canonicalBytes(body));
  const doc = {
    stream: `${patientId}/audit` as PushDoc['stream'],
    id: newId(),
    rev: `1-${hexEncode(sha256(ct)).slice(0, 24)}`,
    deleted: false,
    epoch: 0,
    ct: base64urlEncode(ct),
    author: author.deviceId,
    audit: { authorSeq: 1, prevHash: null, at },
  };
  const payload = auditSignaturePayload(doc);
  return {
    ...doc,
    sig: base64urlEncode(await signCanonical(ed, author.keys.secretKey, payload.label, payload)),
  };
};

describe("a grantee's device names itself to the patient", () => {
  const logs: string[] = [];
  const server = useServer({
    realClock: true,
    logger: createLogger('trace', { write: (line: string) => void logs.push(line) }),
  });
  const sessions = useHaleSessions();

  it('by the names the clinician gave it, one entry per name; a forged claim is ignored; never in clear on the server', async () => {
    const { session: patient } = await createdSession(server.t.url, sessions);
    const { session: clinic, loginName } = await createdSession(server.t.url, sessions, {
      role: 'provider',
    });
    await Promise.all([online(patient), online(clinic)]);
    const patientId = patient.account.accountId;
    const clinicId = clinic.account.accountId;
    const clinicDevice = clinic.account.deviceId;
    await patient.consent.acceptInvite(clinic.consent.invite());
    await patient.consent.grant({
      granteeId: clinicId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: DAY,
      purpose: 'allergy review',
    });
    await patient.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'severe',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await when(clinic.records.list('Allergy', { patientId }), (p) => p.total === 1, 'the clinician has it');

    const ofClinic = (records: readonly AccessRecord[]) =>
      records.filter((r) => r.actorId === clinicId && r.actorDeviceId === clinicDevice);
    const namings = (records: readonly AccessRecord[]) =>
      ofClinic(records)
        .filter((r) => r.action === 'device-named')
        .map((r) => r.summary);

    // On first knowing the grant, the device named itself as it was named when the account was made.
    let records = await accessUntil(
      patient,
      (list) => ofClinic(list).some((r) => r.source === 'server' && r.actorDeviceName === 'first device'),
      "the clinician's fetch, from its device named 'first device'",
    );
    expect(namings(records)).toEqual(['first device']);

    // Renamed: the patient's access data names every record of that device anew, the server's too.
    await clinic.devices.rename(clinicDevice, DESK);
    records = await accessUntil(
      patient,
      (list) => ofClinic(list).every((r) => r.actorDeviceName === DESK),
      `the clinician's device named ${DESK}`,
    );
    expect(ofClinic(records).some((r) => r.source === 'server')).toBe(true);

    // The same name again appends nothing; the next name is appended once.
    await clinic.devices.rename(clinicDevice, ` ${DESK} `);
    await clinic.devices.rename(clinicDevice, PHONE);
    records = await accessUntil(
      patient,
      (list) => ofClinic(list).every((r) => r.actorDeviceName === PHONE),
      `the clinician's device named ${PHONE}`,
    );
    expect(namings(records)).toEqual(['first device', DESK, PHONE]);

    // Devices of another account the patient let in claim names for a device not their own: the
    // clinician's, and one another.
    const stranger = await registerAccount(server.t, 'provider');
    const second = await addDevice(server.t, stranger);
    insertRawGrants(server.t.store, { accountId: patientId }, stranger, 1, { now: Date.now() });
    for (const [author, named, name] of [
      [stranger.device, second.deviceId, FORGED[0]!],
      [second, clinicDevice, FORGED[1]!],
    ] as const) {
      const socket = await connect(server.t, author);
      try {
        const doc = await forgedNaming(server.t, stranger, author, patientId, named, name);
        expect((await pushNew(socket, [doc])).map(outcomeOf)).toEqual(['ok']);
      } finally {
        await socket.close();
      }
    }
    records = await accessUntil(
      patient,
      (list) => list.filter((r) => r.actorId === stranger.accountId).length === 2,
      "the stranger's two claims listed",
    );
    // Listed as what they are (that account's claims), naming nobody.
    expect(
      records
        .filter((r) => r.actorId === stranger.accountId)
        .map((r) => [r.source, r.action, r.actorDeviceName])
        .sort(),
    ).toEqual([
      ['grantee', 'device-named', undefined],
      ['grantee', 'device-named', undefined],
    ]);
    expect(records.filter((r) => FORGED.includes(r.actorDeviceName ?? ''))).toEqual([]);
    expect(ofClinic(records).every((r) => r.actorDeviceName === PHONE)).toBe(true);

    // The server holds the names sealed only: not in its files (the database, its -wal and -shm), not in
    // what it logged.
    await clinic.sync.awaitInSync();
    const files = (await readdir(server.t.dataDir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name));
    expect(files.length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(0);
    const hits: string[] = [];
    for (const file of files) {
      const bytes = await readFile(file);
      for (const name of [DESK, PHONE, ...FORGED])
        if (bytes.includes(Buffer.from(name, 'utf8')) || bytes.includes(Buffer.from(name, 'utf16le')))
          hits.push(`${name} in ${path.basename(file)}`);
    }
    for (const name of [DESK, PHONE, ...FORGED])
      if (logs.some((line) => line.includes(name))) hits.push(`${name} in the log`);
    expect(hits).toEqual([]);
    // The scan reads what it claims to: the login name is kept in clear on purpose (sign-in looks it up).
    const contents = await Promise.all(files.map((f) => readFile(f)));
    expect(contents.some((bytes) => bytes.includes(Buffer.from(loginName, 'utf8')))).toBe(true);
  });
});
