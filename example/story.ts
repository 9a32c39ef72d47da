/**
 * `npm run example`: the whole Hale story in one process, against a real sync server.
 *
 * A sync server runs in-process on a free loopback port over a temporary SQLite file. Every device is
 * the real `@hale/client` (RxDB memory storage, `ws` WebSockets, node's fetch, an in-memory vault):
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
import WebSocket from 'ws';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  REVOCATION_NOTICE,
  RecordError,
  createAccount,
  createHttpApi,
  joinWithPassphrase,
  lock,
  memoryVault,
  openDeviceSession,
  openSession,
  publishProviderProfile,
  searchProviders,
  type AccountDeps,
  type DeviceSession,
  type HttpApi,
  type RemovedStream,
  type UnlockedAccount,
  type WebSocketLike,
} from '@hale/client/advanced';
import {
  PRODUCTION_KDF,
  TEST_KDF,
  base64urlEncode,
  chooseEd25519,
  decodeRecoveryKey,
  hexEncode,
  type Ed25519,
} from '@hale/crypto';
import { buildApp, openSqliteStore, type HaleServer, type SqliteStore } from '@hale/sync-server';

export interface StoryOptions {
  /** Where the narration goes (default: console.log). */
  readonly log?: (line: string) => void;
  /** 'production' (default): scrypt N=2^17 as shipped, ~0.5 s per wrap. 'test': fast, insecure. */
  readonly kdf?: 'production' | 'test';
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
  lateAllergyEpochOnSecondDevice: number;
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

// `ws` implements the WHATWG interface the client needs, but its event parameter types are richer
// than WebSocketLike's, so the structural check fails on handler contravariance only.
const createWebSocket = (url: string): WebSocketLike => new WebSocket(url) as unknown as WebSocketLike;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStory(options: StoryOptions = {}): Promise<StorySummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const waitMs = options.waitMs ?? 15_000;
  const absenceWindowMs = options.absenceWindowMs ?? 2_000;
  const kdf = options.kdf === 'test' ? TEST_KDF : PRODUCTION_KDF;
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
  const waitFor = async (check: () => Promise<boolean> | boolean, what: string, ms = waitMs) => {
    const until = Date.now() + ms;
    for (;;) {
      if (await check()) return;
      if (Date.now() > until)
        throw new StoryFailure(stepNo, `timed out after ${ms} ms waiting until ${what}`);
      await sleep(25);
    }
  };
  const waitOnline = (s: DeviceSession, who: string) =>
    waitFor(() => s.sync.state().status === 'online', `${who} is online`);
  const countsOf = async (s: DeviceSession, patientId: string): Promise<Counts> => ({
    allergies: (await s.records.query('Allergy', { patientId })).length,
    medications: (await s.records.query('Medication', { patientId })).length,
    labResults: (await s.records.query('LabResult', { patientId })).length,
  });
  const show = (c: Counts): string =>
    `${c.allergies} allerg${c.allergies === 1 ? 'y' : 'ies'}, ${c.medications} medication(s), ${c.labResults} lab result(s)`;

  // Everything below is released in `finally`, in reverse order of opening.
  let dataDir: string | null = null;
  let store: SqliteStore | null = null;
  let server: HaleServer | null = null;
  const sessions: DeviceSession[] = [];
  const accounts: UnlockedAccount[] = [];

  try {
    step('Start a Hale sync server in this process');
    dataDir = await mkdtemp(path.join(tmpdir(), 'hale-example-'));
    store = await openSqliteStore({ dataDir });
    server = await buildApp({ store });
    const serverUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const api: HttpApi = createHttpApi({ baseUrl: serverUrl, fetch });
    const health = await api.health();
    expect(health.status === 'ok', `server health is ${health.status}`);
    say(`listening on ${serverUrl}, SQLite store in ${dataDir}`);

    const ed: Ed25519 = await chooseEd25519();
    say(`Ed25519 implementation on this platform: ${ed.name}`);
    if (kdf === TEST_KDF) {
      say('NOTE: passphrase wrapping uses fast TEST parameters here; real apps use PRODUCTION_KDF.');
    } else {
      say(`passphrase wrapping: scrypt N=2^${Math.log2(PRODUCTION_KDF.N)} (production parameters)`);
    }
    const deps = (vault = memoryVault()): AccountDeps => ({
      api,
      vault,
      ed,
      kdf,
      weakKdfForTests: kdf === TEST_KDF,
    });
    const open = async (
      account: UnlockedAccount,
      opts: { onPurged?: (r: RemovedStream, n: number) => void; offline?: boolean } = {},
    ) => {
      const session = await openDeviceSession({
        account,
        serverUrl,
        createWebSocket,
        storage: getRxStorageMemory(),
        getAccount: (accountId) => api.getAccount(accountId),
        getDevice: (accountId, deviceId) => api.getAccountDevice(accountId, deviceId),
        ed,
        ...(opts.onPurged ? { onPurged: opts.onPurged } : {}),
        ...(opts.offline ? { offline: true } : {}),
      });
      sessions.push(session);
      return session;
    };

    step('A patient creates an account on her laptop');
    const passphrase = 'river otter marmalade 1987';
    const laptopVault = memoryVault();
    const t0 = Date.now();
    const created = await createAccount(deps(laptopVault), {
      role: 'patient',
      passphrase,
      loginName: 'alex.rivera',
      deviceName: "Alex's laptop",
    });
    const patient = created.account;
    accounts.push(patient);
    const patientId = patient.accountId;
    const recoveryKeyGroups = created.recoveryKey.split('-').length;
    expect(created.recoveryKey.length > 0, 'no recovery key returned');
    say(`account ${patientId} (login "alex.rivera"), device ${patient.device.deviceId}`);
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
    // Opened offline: the writes below are stored (encrypted) on the laptop with no server in reach.
    const laptop = await open(patient, { offline: true });
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
      provenance: { by: patientId, deviceId: patient.device.deviceId, at: nowIso },
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
      refused instanceof RecordError && refused.code === 'VALIDATION_FAILED',
      'an allergy without a substance was accepted',
    );
    say(`an allergy with an empty substance is refused: ${(refused as RecordError).message}`);
    const offlineWrites = {
      pendingWrites: laptop.sync.state().pendingWrites,
      serverDocs: patientDocsOnServer(),
    };
    const offlineStatus = laptop.sync.state().status;
    expect(offlineStatus === 'offline', `the laptop is ${offlineStatus}, not offline`);
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
    await waitFor(() => laptop.sync.state().pendingWrites === 0, 'the laptop has pushed its writes');
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
      `online: pushed, pending writes ${laptop.sync.state().pendingWrites}; the server holds ${serverDocsAfterSync} records, ciphertext only (no record text in them)`,
    );

    step('Her phone joins the account with the passphrase and sees all three records');
    const phoneAccount = await joinWithPassphrase(deps(), {
      loginName: 'alex.rivera',
      passphrase,
      deviceName: "Alex's phone",
    });
    accounts.push(phoneAccount);
    expect(phoneAccount.accountId === patientId, 'the phone joined another account');
    const phone = await open(phoneAccount);
    await waitFor(async () => {
      const c = await countsOf(phone, patientId);
      return c.allergies === 1 && c.medications === 1 && c.labResults === 1;
    }, 'the phone holds the allergy, the medication and the lab result');
    const secondDevice = await countsOf(phone, patientId);
    const onPhone = need(await phone.records.get<'Allergy'>(penicillin.id), 'the phone lost the allergy');
    expect(onPhone.record.substance === 'Penicillin', 'the phone decrypted a different allergy');
    expect(onPhone.author === patient.device.deviceId, 'the allergy is not attributed to the laptop');
    say(`device ${phoneAccount.device.deviceId} joined account ${phoneAccount.accountId}`);
    say(`the phone decrypted ${show(secondDevice)}; allergy authored by device ${onPhone.author}`);

    step('A provider creates an account and publishes a signed directory profile');
    const providerCreated = await createAccount(deps(), {
      role: 'provider',
      passphrase: 'clinic workstation 42 blue',
      loginName: 'dr.lee',
      deviceName: 'Riverside clinic desk',
    });
    const provider = providerCreated.account;
    accounts.push(provider);
    const providerId = provider.accountId;
    const providerToken = (await openSession(api, provider.device, ed)).token;
    await publishProviderProfile(
      { api, ed },
      {
        account: provider,
        profile: {
          displayName: 'Dr. Lin Lee',
          specialty: 'Family medicine',
          clinic: 'Riverside Family Practice',
          identifier: 'NPI 1234567893',
        },
        token: providerToken,
      },
    );
    say(`provider account ${providerId}, device ${provider.device.deviceId}`);
    const purges: Array<{ removed: RemovedStream; count: number }> = [];
    const clinic = await open(provider, { onPurged: (removed, count) => purges.push({ removed, count }) });
    await waitOnline(clinic, 'the provider device');
    const patientStreams = () => clinic.engine.access().filter((a) => a.patientId === patientId);
    expect(patientStreams().length === 0, 'the provider can see patient streams before any grant');
    say(`provider device online; streams of patient ${patientId} it may read: ${patientStreams().length}`);

    step('The patient finds the provider, checks the safety number and grants 48 h of allergy read access');
    const patientToken = (await openSession(api, patient.device, ed)).token;
    const found = await searchProviders({ api, ed }, { q: 'Lee', token: patientToken });
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
    await waitFor(
      async () => (await clinic.records.get(penicillin.id)) !== null,
      'the provider receives the allergy',
    );
    // Give anything wrongly shared the same chance to arrive before counting.
    await clinic.sync.awaitInSync();
    const providerDuringGrant = await countsOf(clinic, patientId);
    expect(providerDuringGrant.allergies === 1, `provider holds ${providerDuringGrant.allergies} allergies`);
    expect(providerDuringGrant.medications === 0, 'provider received a medication without consent');
    expect(providerDuringGrant.labResults === 0, 'provider received a lab result without consent');
    expect((await clinic.records.get(lisinopril.id)) === null, 'the medication is readable by the provider');
    const mayRead = patientStreams()
      .map((a) => `${a.stream} (${a.access})`)
      .join(', ');
    expect(mayRead === `${patientId}/allergy (read)`, `the provider may read ${mayRead}`);
    say(`provider may read: ${mayRead}`);
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
    expect(
      attempt instanceof RecordError && attempt.code === 'NOT_WRITABLE',
      'the provider wrote to a read-only stream',
    );
    const providerWriteRefused = (attempt as RecordError).code;
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
    const grants = await laptop.consent.list();
    const grantStatusAfterRevocation = grants.find((g) => g.grant.grantId === grantId)?.status ?? 'missing';
    expect(
      grantStatusAfterRevocation === 'revoked',
      `the grant is ${grantStatusAfterRevocation}, not revoked`,
    );
    say(`grant ${grantId} is now ${grantStatusAfterRevocation}`);

    step("The provider's device reports that access ended and purges its copy");
    const allergyStream = `${patientId}/allergy`;
    await waitFor(
      () =>
        clinic.sync.state().errors.some((e) => e.stream === allergyStream && e.code === 'CONSENT_REVOKED'),
      "the provider's sync state reports CONSENT_REVOKED",
    );
    const ended = need(
      clinic.sync.state().errors.find((e) => e.stream === allergyStream && e.code === 'CONSENT_REVOKED'),
      'the CONSENT_REVOKED report vanished',
    );
    const providerAccessEndedCode = ended.code;
    say(`sync state: ${ended.code} - ${ended.message}`);
    // The purge ends with the `onPurged` callback, after the local records and their tombstones are gone.
    await waitFor(
      () =>
        purges.some((p) => p.removed.stream === allergyStream) ||
        clinic.sync.state().errors.some((e) => e.stream === allergyStream && e.code === 'PURGE_FAILED'),
      'the provider device finishes purging the allergy stream',
    );
    const failedPurge = clinic.sync.state().errors.find((e) => e.code === 'PURGE_FAILED');
    expect(failedPurge === undefined, `purge failed: ${failedPurge?.message ?? ''}`);
    const purge = need(
      purges.find((p) => p.removed.stream === allergyStream),
      'no purge reported for the allergy stream',
    );
    expect(purge.removed.reason === 'revoked', `purge reason is ${purge.removed.reason}`);
    const providerPurged = purge.count;
    expect(providerPurged === 1, `expected 1 purged allergy, the provider purged ${providerPurged}`);
    expect(!clinic.engine.readable(allergyStream), 'the provider still follows the allergy stream');
    const providerAfterRevocation = await countsOf(clinic, patientId);
    expect(providerAfterRevocation.allergies === 0, 'allergies remain on the provider device');
    say(
      `purged from the provider device: ${providerPurged} record(s) of ${purge.removed.stream} (${purge.removed.reason})`,
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
    await waitFor(() => laptop.sync.state().pendingWrites === 0, 'the laptop has pushed the new allergy');
    // Positive control: the server did relay it, to the devices still entitled to it.
    await waitFor(
      async () => (await phone.records.get(sulfa.id)) !== null,
      "the patient's phone receives the new allergy",
    );
    const sulfaOnPhone = await phone.db.records.findOne(sulfa.id).exec();
    const lateAllergyEpochOnSecondDevice = sulfaOnPhone?.epoch ?? -1;
    expect(
      lateAllergyEpochOnSecondDevice === 1,
      `new allergy sealed under epoch ${lateAllergyEpochOnSecondDevice}`,
    );
    say(`allergy ${sulfa.id} (${sulfa.substance}) pushed; the phone has it, sealed under key epoch 1`);
    // The provider must stay connected while it is watched: a device offline receives nothing anyway.
    await clinic.sync.awaitInSync();
    const watchStart = Date.now();
    let lateAllergyOnProvider = false;
    let providerOnlineThroughWatch = true;
    while (Date.now() - watchStart < absenceWindowMs) {
      if ((await clinic.records.get(sulfa.id)) !== null) lateAllergyOnProvider = true;
      if (clinic.sync.state().status !== 'online') providerOnlineThroughWatch = false;
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
      `provider sync status: ${clinic.sync.state().status}, quarantined ${clinic.sync.state().quarantined}`,
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
      lateAllergyEpochOnSecondDevice,
      lateAllergyOnProvider,
      providerOnlineThroughWatch,
      elapsedMs: Date.now() - started,
    };
    log(`\nThe story holds: every step checked (${summary.elapsedMs} ms).`);
    return summary;
  } finally {
    for (const s of sessions.reverse()) await s.close().catch(() => undefined);
    for (const a of accounts) lock(a);
    if (server) await server.close().catch(() => undefined);
    if (store) await store.close().catch(() => undefined);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const kdf = process.env['HALE_EXAMPLE_KDF'] === 'test' ? 'test' : 'production';
  try {
    await runStory({ kdf });
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
