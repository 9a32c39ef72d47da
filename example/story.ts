/**
 * `npm run example`: the whole Hale story in one process, against a real sync server.
 *
 * A sync server runs in-process on a free loopback port over a temporary SQLite file. Every device is
 * an app on the public API only: `openHale` of `@hale/client` over `nodePlatform()` of
 * `@hale/platform-node` (RxDB memory storage, `ws` WebSockets, node's fetch, an in-memory vault):
 * a patient creates an account (its recovery key stored nowhere), records an allergy, a medication and a
 * lab result while offline, then syncs them (the server stores ciphertext only); a second device
 * joins with the passphrase; a provider gets 48 hours of read access to allergies, sees exactly that,
 * loses it on revocation (local copy purged) and never receives what the patient writes afterwards.
 *
 * Every step checks what it claims and throws StoryFailure (code STORY_EXPECTATION_FAILED, naming the
 * step) when it does not hold; `main` turns that into exit code 1. Waits are bounded. Everything opened
 * is closed in `finally`, whatever happened.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  REVOCATION_NOTICE,
  isHaleError,
  memoryVault,
  openHale,
  type HaleSession,
  type Observed,
  type RecordKind,
} from '@hale/client';
import { nodePlatform } from '@hale/platform-node';
import { base64urlEncode, decodeRecoveryKey, hexEncode } from '@hale/crypto';
import { buildApp, openSqliteStore, type HaleServer, type SqliteStore } from '@hale/sync-server';

export interface StoryOptions {
  /** Where the narration goes (default: console.log). */
  readonly log?: (line: string) => void;
  /** How long the provider is watched for the allergy written after the revocation. */
  readonly absenceWindowMs?: number;
  /** Upper bound of every other wait. */
  readonly waitMs?: number;
  /** Stream types the patient grants (default: allergies only). Widening it makes step 7 fail, on purpose. */
  readonly grantScope?: ReadonlyArray<'allergy' | 'medication' | 'lab-result'>;
}

interface Counts {
  allergies: number;
  medications: number;
  labResults: number;
}

/** Figures the story measured, for the caller (and the test) to check. */
export interface StorySummary {
  patientId: string;
  providerId: string;
  grantId: string;
  recoveryKeyGroups: number;
  /** Where the recovery key, or the root secret it encodes, was found stored (empty: nowhere). */
  recoveryKeyFoundIn: string[];
  /** Right after the three writes made offline: what waits to be pushed, and what the server holds. */
  offlineWrites: { pendingWrites: number; serverDocs: number };
  serverDocsAfterSync: number;
  /** The record texts found in clear in the server's stored documents (empty: ciphertext only). */
  plaintextOnServer: string[];
  secondDevice: Counts;
  providerDuringGrant: Counts;
  /** The signed grant's scope and length as stored, not as asked for. */
  grantScope: Array<{ type: string; access: string }>;
  grantHours: number;
  providerWriteRefused: string;
  rotated: Array<{ stream: string; epoch: number }>;
  grantStatusAfterRevocation: string;
  providerAccessEndedCode: string;
  providerPurged: number;
  providerAfterRevocation: Counts;
  /** The key epoch the server stores the allergy written after the revocation under. */
  lateAllergyEpoch: number;
  lateAllergyOnProvider: boolean;
  /** Whether the provider stayed connected through the whole watch (else absence would prove nothing). */
  providerOnlineThroughWatch: boolean;
  elapsedMs: number;
}

export class StoryFailure extends Error {
  readonly code = 'STORY_EXPECTATION_FAILED';

  constructor(
    readonly step: number,
    message: string,
  ) {
    super(`step ${step}: ${message}`);
    this.name = 'StoryFailure';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStory(options: StoryOptions = {}): Promise<StorySummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const waitMs = options.waitMs ?? 15_000;
  const absenceWindowMs = options.absenceWindowMs ?? 2_000;
  const started = Date.now();

  let stepNo = 0;
  const step = (title: string): void => {
    stepNo += 1;
    log(`\n${stepNo}. ${title}`);
  };
  const say = (line: string): void => log(`   ${line}`);
  const expect = (condition: boolean, message: string): void => {
    if (!condition) throw new StoryFailure(stepNo, message);
  };
  const need = <T>(value: T | null | undefined, message: string): T => {
    if (value === null || value === undefined) throw new StoryFailure(stepNo, message);
    return value;
  };
  /** Resolves with the Observed's value once `check` holds, now or at a later change; bounded. */
  const until = <T>(observed: Observed<T>, check: (value: T) => boolean, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let stop: () => void = () => undefined;
      const timer = setTimeout(() => {
        stop();
        reject(new StoryFailure(stepNo, `timed out after ${waitMs} ms waiting until ${what}`));
      }, waitMs);
      const sub = observed.$.subscribe((value) => {
        if (!check(value)) return;
        clearTimeout(timer);
        queueMicrotask(() => sub.unsubscribe());
        resolve(value);
      });
      stop = () => sub.unsubscribe();
    });
  const waitOnline = (s: HaleSession, who: string) =>
    until(s.sync.state, (x) => x.status === 'online', `${who} is online`);
  const countsOf = async (s: HaleSession, patientId: string): Promise<Counts> => {
    const count = async (kind: RecordKind) => (await s.records.query(kind, { patientId })).total;
    return {
      allergies: await count('Allergy'),
      medications: await count('Medication'),
      labResults: await count('LabResult'),
    };
  };
  const show = (c: Counts): string =>
    `${c.allergies} allerg${c.allergies === 1 ? 'y' : 'ies'}, ${c.medications} medication(s), ${c.labResults} lab result(s)`;

  // Everything below is released in `finally`, in reverse order of opening.
  let dataDir: string | null = null;
  let store: SqliteStore | null = null;
  let server: HaleServer | null = null;
  const sessions: HaleSession[] = [];

  try {
    step('Start a Hale sync server in this process');
    dataDir = await mkdtemp(path.join(tmpdir(), 'hale-example-'));
    store = await openSqliteStore({ dataDir });
    server = await buildApp({ store });
    const serverUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const health = (await (await fetch(`${serverUrl}/healthz`)).json()) as { status?: string };
    expect(health.status === 'ok', `server health is ${String(health.status)}`);
    say(`listening on ${serverUrl}, SQLite store in ${dataDir}`);
    say('passphrase wrapping: scrypt N=2^17 (production parameters, about half a second a wrap)');
    // Each device is an app on its own: its own platform (store, vault), the public API only.
    const device = (vault = memoryVault()) =>
      openHale({ server: serverUrl, platform: nodePlatform({ vault }) });

    step('A patient creates an account on her laptop');
    const passphrase = 'river otter marmalade 1987';
    const laptopVault = memoryVault();
    const t0 = Date.now();
    const created = await (
      await device(laptopVault)
    ).createAccount({
      role: 'patient',
      passphrase,
      loginName: 'alex.rivera',
      deviceName: "Alex's laptop",
    });
    const laptop = created.session;
    sessions.push(laptop);
    // Offline from here until step 2 ends: the writes below are stored (encrypted) on the laptop only.
    laptop.sync.goOffline();
    const patientId = laptop.account.accountId;
    const recoveryKeyGroups = created.recoveryKey.split('-').length;
    expect(created.recoveryKey.length > 0, 'no recovery key returned');
    say(`account ${patientId} (login "alex.rivera"), device ${laptop.account.deviceId}`);
    say(`created in ${Date.now() - t0} ms (root secret wrapped under the passphrase)`);
    // "Stores it nowhere": neither the key nor the root secret it encodes, in any usual spelling, is in this
    // device's vault or in any file of the server's data directory.
    const decodedRoot = decodeRecoveryKey(created.recoveryKey);
    if (!decodedRoot.ok) throw new StoryFailure(stepNo, 'the recovery key does not decode');
    const root = decodedRoot.value;
    const spellings = [
      created.recoveryKey,
      created.recoveryKey.replaceAll('-', ''),
      base64urlEncode(root),
      Buffer.from(root).toString('base64'),
      hexEncode(root),
    ];
    const holds = (text: string): boolean => spellings.some((x) => text.includes(x));
    const recoveryKeyFoundIn: string[] = [];
    for (const [key, value] of laptopVault.entries()) {
      if (holds(key) || holds(value)) recoveryKeyFoundIn.push(`vault entry ${key}`);
    }
    for (const name of await readdir(dataDir)) {
      const bytes = await readFile(path.join(dataDir, name));
      if (bytes.includes(Buffer.from(root)) || holds(bytes.toString('latin1')))
        recoveryKeyFoundIn.push(`server file ${name}`);
    }
    expect(recoveryKeyFoundIn.length === 0, `the recovery key is stored in ${recoveryKeyFoundIn.join(', ')}`);
    say('RECOVERY KEY - shown exactly once, Hale stores it nowhere; write it down:');
    say(`    ${created.recoveryKey}`);
    say("checked: neither it nor the root secret it encodes is in the laptop's vault or the server's files");

    step('She records an allergy, a medication and a lab result (offline-first, then synced)');
    // goOffline() stops the connection: the sync state says `stopped` (not connected, by choice).
    await until(laptop.sync.state, (x) => x.status === 'stopped', 'the laptop is offline');
    const patientDocsOnServer = (): number =>
      (
        store!.db
          .prepare('SELECT count(*) AS n FROM docs WHERE stream IN (?, ?, ?)')
          .get(`${patientId}/allergy`, `${patientId}/medication`, `${patientId}/lab-result`) as {
          n: number;
        }
      ).n;
    const nowIso = new Date().toISOString();
    const penicillin = await laptop.records.add('Allergy', {
      substance: 'Penicillin',
      category: 'medication',
      reaction: 'Hives',
      severity: 'moderate',
      recordedAt: nowIso,
      active: true,
    });
    const lisinopril = await laptop.records.add('Medication', {
      name: 'Lisinopril',
      dose: '10 mg',
      frequency: 'once daily',
      active: true,
      reason: 'Hypertension',
    });
    const glucose = await laptop.records.add('LabResult', {
      testCode: '2345-7',
      testName: 'Glucose [Mass/volume] in Serum or Plasma',
      status: 'final',
      value: 98,
      units: 'mg/dL',
      referenceRange: '70-99 mg/dL',
      effectiveAt: '2025-05-01T08:10:00.000Z',
      version: 1,
      provenance: { by: patientId, deviceId: laptop.account.deviceId, at: nowIso },
      versions: [],
    });
    say(`allergy    ${penicillin.id}  ${penicillin.substance} (${penicillin.severity})`);
    say(`medication ${lisinopril.id}  ${lisinopril.name} ${lisinopril.dose ?? ''}`);
    say(`lab result ${glucose.id}  glucose ${String(glucose.value)} ${glucose.units ?? ''}`);
    const refused = await laptop.records
      .add('Allergy', { substance: '', severity: 'mild', recordedAt: nowIso, active: true })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(
      isHaleError(refused, 'VALIDATION_FAILED') && refused.field === 'substance',
      'an allergy without a substance was accepted',
    );
    say(`an allergy with an empty substance is refused: ${(refused as Error).message}`);
    const offlineWrites = {
      pendingWrites: laptop.sync.state.get().pendingWrites,
      serverDocs: patientDocsOnServer(),
    };
    const offlineStatus = laptop.sync.state.get().status;
    expect(offlineStatus === 'stopped', `the laptop is ${offlineStatus}, not offline`);
    const onLaptop = await countsOf(laptop, patientId);
    expect(
      onLaptop.allergies === 1 && onLaptop.medications === 1 && onLaptop.labResults === 1,
      `the laptop reads back ${show(onLaptop)}`,
    );
    expect(offlineWrites.pendingWrites === 3, `${offlineWrites.pendingWrites} writes wait, not 3`);
    expect(offlineWrites.serverDocs === 0, `the server holds ${offlineWrites.serverDocs} records already`);
    say(
      `no connection (status ${offlineStatus}): the laptop reads back ${show(onLaptop)}; ${offlineWrites.pendingWrites} writes wait; the server holds ${offlineWrites.serverDocs} of them`,
    );
    laptop.sync.goOnline();
    await waitOnline(laptop, 'the laptop');
    await until(laptop.sync.state, (x) => x.pendingWrites === 0, 'the laptop has pushed its writes');
    const serverDocsAfterSync = patientDocsOnServer();
    expect(serverDocsAfterSync === 3, `the server holds ${serverDocsAfterSync} records, not 3`);
    // What the server stored is ciphertext: no field of the three records appears in it.
    const texts = ['Penicillin', 'Hives', 'Lisinopril', 'Hypertension', 'Glucose', 'mg/dL'];
    const storedRows = store.db
      .prepare('SELECT ct FROM docs WHERE stream LIKE ?')
      .all(`${patientId}/%`) as Array<{ ct: Buffer }>;
    const plaintextOnServer = texts.filter((t) => storedRows.some((row) => row.ct.includes(t)));
    expect(plaintextOnServer.length === 0, `the server stored ${plaintextOnServer.join(', ')} in clear`);
    say(
      `online: pushed, pending writes ${laptop.sync.state.get().pendingWrites}; the server holds ${serverDocsAfterSync} records, ciphertext only (no record text in them)`,
    );

    step('Her phone joins the account with the passphrase and sees all three records');
    const phone = await (
      await device()
    ).join({ loginName: 'alex.rivera', passphrase, deviceName: "Alex's phone" });
    sessions.push(phone);
    expect(phone.account.accountId === patientId, 'the phone joined another account');
    await until(phone.sync.initialSync, (p) => p.complete && p.total >= 3, 'the phone caught up');
    const secondDevice = await countsOf(phone, patientId);
    expect(
      secondDevice.allergies === 1 && secondDevice.medications === 1 && secondDevice.labResults === 1,
      `the phone holds ${show(secondDevice)}`,
    );
    const onPhone = need(await phone.records.get<'Allergy'>(penicillin.id), 'the phone lost the allergy');
    expect(onPhone.record.substance === 'Penicillin', 'the phone decrypted a different allergy');
    expect(onPhone.author === laptop.account.deviceId, 'the allergy is not attributed to the laptop');
    say(`device ${phone.account.deviceId} joined account ${phone.account.accountId}`);
    say(`the phone decrypted ${show(secondDevice)}; allergy authored by device ${onPhone.author}`);

    step('A provider creates an account and publishes a signed directory profile');
    const clinic = (
      await (
        await device()
      ).createAccount({
        role: 'provider',
        passphrase: 'clinic workstation 42 blue',
        loginName: 'dr.lee',
        deviceName: 'Riverside clinic desk',
      })
    ).session;
    sessions.push(clinic);
    const providerId = clinic.account.accountId;
    await clinic.directory.publishProfile({
      displayName: 'Dr. Lin Lee',
      specialty: 'Family medicine',
      clinic: 'Riverside Family Practice',
      identifier: 'NPI 1234567893',
    });
    say(`provider account ${providerId}, device ${clinic.account.deviceId}`);
    await waitOnline(clinic, 'the provider device');
    const chartOnClinic = () => clinic.consent.grantsReceived.get().find((c) => c.patientId === patientId);
    expect(chartOnClinic() === undefined, 'the provider can see patient streams before any grant');
    say(`provider device online; charts shared with it: ${clinic.consent.grantsReceived.get().length}`);

    step('The patient finds the provider, checks the safety number and grants 48 h of allergy read access');
    const found = await laptop.directory.search('Lee');
    const entry = need(
      found.providers.find((p) => p.profile.accountId === providerId),
      'the provider is not in the directory (or its signature did not verify)',
    );
    say(
      `directory: "${entry.profile.displayName}" (${entry.profile.clinic}), fingerprint ${entry.fingerprint}`,
    );
    const described = await laptop.consent.describeProvider(providerId);
    say(`safety number to compare in person: ${described.safetyNumber}`);
    await laptop.consent.verifyProvider(providerId);
    const stored = await laptop.consent.grant({
      granteeId: providerId,
      scope: (options.grantScope ?? ['allergy']).map((type) => ({ type, access: 'read' as const })),
      durationMs: 48 * 3600_000,
      purpose: 'Allergy review before prescribing',
    });
    const grantId = stored.grant.grantId;
    const grantScope = stored.grant.scope.map((e) => ({ type: e.type, access: e.access }));
    const grantHours = (Date.parse(stored.grant.expiresAt) - Date.parse(stored.grant.start)) / 3600_000;
    expect(grantHours === 48, `the grant runs ${grantHours} h, not 48 h`);
    expect(
      grantScope.every((e) => e.access === 'read'),
      `the grant gives more than read access: ${JSON.stringify(grantScope)}`,
    );
    say(
      `grant ${grantId}: ${grantScope.map((e) => `${e.type} (${e.access})`).join(', ')} for ${grantHours} h, until ${stored.grant.expiresAt}`,
    );

    step('The provider syncs: the allergy arrives, the medication and the lab result do not');
    await until(
      clinic.records.list('Allergy', { patientId }),
      (page) => page.total === 1,
      'the provider receives the allergy',
    );
    // Give anything wrongly shared the same chance to arrive before counting.
    await clinic.sync.awaitInSync();
    const providerDuringGrant = await countsOf(clinic, patientId);
    expect(providerDuringGrant.allergies === 1, `provider holds ${providerDuringGrant.allergies} allergies`);
    expect(providerDuringGrant.medications === 0, 'provider received a medication without consent');
    expect(providerDuringGrant.labResults === 0, 'provider received a lab result without consent');
    expect((await clinic.records.get(lisinopril.id)) === null, 'the medication is readable by the provider');
    const mayRead = (chartOnClinic()?.streams ?? []).map((a) => `${a.type} (${a.access})`).join(', ');
    expect(mayRead === 'allergy (read)', `the provider may read ${mayRead}`);
    say(`provider may read of patient ${patientId}: ${mayRead}`);
    say(`provider holds ${show(providerDuringGrant)} of patient ${patientId}`);
    const attempt = await clinic.records
      .add(
        'Allergy',
        { substance: 'Latex', severity: 'mild', recordedAt: nowIso, active: true },
        { patientId },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(isHaleError(attempt, 'NOT_WRITABLE'), 'the provider wrote to a read-only stream');
    const providerWriteRefused = (attempt as { code: string }).code;
    say(`provider tries to add an allergy to the chart: refused with ${providerWriteRefused}`);

    step('The patient revokes the grant');
    say(`notice shown first: "${REVOCATION_NOTICE}"`);
    const revoked = await laptop.consent.revoke(grantId);
    const rotated = revoked.rotated;
    expect(
      rotated.some((r) => r.stream === `${patientId}/allergy` && r.epoch === 1),
      'the allergy stream was not re-keyed to epoch 1',
    );
    for (const r of rotated) say(`re-keyed ${r.stream} to epoch ${r.epoch}`);
    const grants = await until(
      laptop.consent.grants,
      (list) => list.some((g) => g.grant.grantId === grantId && g.status === 'revoked'),
      'the grant is listed revoked',
    );
    const grantStatusAfterRevocation = grants.find((g) => g.grant.grantId === grantId)?.status ?? 'missing';
    say(`grant ${grantId} is now ${grantStatusAfterRevocation}`);

    step("The provider's device reports that access ended and purges its copy");
    const allergyStream = `${patientId}/allergy`;
    const issues = await until(
      clinic.sync.issues,
      (list) => list.some((e) => e.stream === allergyStream && e.code === 'CONSENT_REVOKED'),
      "the provider's sync issues report CONSENT_REVOKED",
    );
    const ended = need(
      issues.find((e) => e.stream === allergyStream && e.code === 'CONSENT_REVOKED'),
      'the CONSENT_REVOKED report vanished',
    );
    const providerAccessEndedCode = ended.code;
    say(`sync issue: ${ended.code} - ${ended.message}`);
    // The chart shared with the provider lists the stream as ended once the purge is done, with its count.
    const charts = await until(
      clinic.consent.grantsReceived,
      (list) => list.some((c) => c.patientId === patientId && c.ended.some((e) => e.type === 'allergy')),
      'the provider device finishes purging the allergy stream',
    );
    const failedPurge = clinic.sync.issues.get().find((e) => e.code === 'PURGE_FAILED');
    expect(failedPurge === undefined, `purge failed: ${failedPurge?.message ?? ''}`);
    const chart = need(
      charts.find((c) => c.patientId === patientId),
      'the chart is no longer listed',
    );
    const purge = need(
      chart.ended.find((e) => e.type === 'allergy'),
      'no end listed for the allergy stream',
    );
    expect(purge.reason === 'revoked', `purge reason is ${purge.reason}`);
    const providerPurged = purge.purged ?? -1;
    expect(providerPurged === 1, `expected 1 purged allergy, the provider purged ${providerPurged}`);
    expect(
      chart.state === 'ended' && chart.streams.length === 0,
      'the provider still follows the allergy stream',
    );
    const providerAfterRevocation = await countsOf(clinic, patientId);
    expect(providerAfterRevocation.allergies === 0, 'allergies remain on the provider device');
    say(
      `purged from the provider device: ${providerPurged} record(s) of ${allergyStream} (${purge.reason}); the chart is listed ${chart.state}`,
    );
    say(`provider now holds ${show(providerAfterRevocation)} of patient ${patientId}`);

    step('After the revocation the patient records a new allergy; the provider never receives it');
    const sulfa = await laptop.records.add('Allergy', {
      substance: 'Sulfamethoxazole',
      category: 'medication',
      reaction: 'Rash',
      severity: 'severe',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await until(laptop.sync.state, (x) => x.pendingWrites === 0, 'the laptop has pushed the new allergy');
    // Positive control: the server did relay it, to the devices still entitled to it.
    await until(
      phone.records.one(sulfa.id),
      (r) => r !== null,
      "the patient's phone receives the new allergy",
    );
    const row = store.db.prepare('SELECT epoch FROM docs WHERE id = ?').get(sulfa.id) as
      { epoch: number } | undefined;
    const lateAllergyEpoch = row?.epoch ?? -1;
    expect(lateAllergyEpoch === 1, `new allergy sealed under epoch ${lateAllergyEpoch}`);
    say(`allergy ${sulfa.id} (${sulfa.substance}) pushed, sealed under key epoch 1; the phone has it`);
    // The provider must stay connected while it is watched: a device offline receives nothing anyway.
    await clinic.sync.awaitInSync();
    const watchStart = Date.now();
    let lateAllergyOnProvider = false;
    let providerOnlineThroughWatch = true;
    while (Date.now() - watchStart < absenceWindowMs) {
      if ((await clinic.records.get(sulfa.id)) !== null) lateAllergyOnProvider = true;
      if (clinic.sync.state.get().status !== 'online') providerOnlineThroughWatch = false;
      await sleep(100);
    }
    expect(
      providerOnlineThroughWatch,
      'the provider went offline during the watch, so its absence shows nothing',
    );
    expect(!lateAllergyOnProvider, 'the provider received an allergy written after the revocation');
    const finalProvider = await countsOf(clinic, patientId);
    expect(finalProvider.allergies === 0, `provider holds ${finalProvider.allergies} allergies`);
    say(`watched the provider for ${absenceWindowMs} ms: the new allergy is absent (${show(finalProvider)})`);
    say(
      `provider sync status: ${clinic.sync.state.get().status}, quarantined ${clinic.sync.state.get().quarantined}`,
    );

    const summary: StorySummary = {
      patientId,
      providerId,
      grantId,
      recoveryKeyGroups,
      recoveryKeyFoundIn,
      offlineWrites,
      serverDocsAfterSync,
      plaintextOnServer,
      secondDevice,
      providerDuringGrant,
      grantScope,
      grantHours,
      providerWriteRefused,
      rotated,
      grantStatusAfterRevocation,
      providerAccessEndedCode,
      providerPurged,
      providerAfterRevocation,
      lateAllergyEpoch,
      lateAllergyOnProvider,
      providerOnlineThroughWatch,
      elapsedMs: Date.now() - started,
    };
    log(`\nThe story holds: every step checked (${summary.elapsedMs} ms).`);
    return summary;
  } finally {
    // lock() forgets each account's keys, then closes its session.
    for (const s of sessions.reverse()) await s.lock().catch(() => undefined);
    if (server) await server.close().catch(() => undefined);
    if (store) await store.close().catch(() => undefined);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  try {
    await runStory();
    process.exitCode = 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`\nEXAMPLE FAILED - ${message}`);
    if (!(error instanceof StoryFailure) && error instanceof Error && error.stack) console.error(error.stack);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
