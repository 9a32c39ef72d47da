// The server as a hostile operator sees it: after a whole patient and clinician story (named devices, a
// grant with a purpose, a record read by the clinician, a shared link opened by a named viewer), every file
// in the server's data directory (the database, its -wal and -shm) and a backup taken while it ran, and
// everything it logged is scanned for the purpose, the device names, the record's content, the link's
// label and record count and the viewer's name. None may be there; the devices themselves still show them.
//
// | looked for                      | where a device shows it                      |
// | ------------------------------- | -------------------------------------------- |
// | the grant's purpose             | `consent.list()`, `openGrantPurpose` (grantee) |
// | each device's name              | `listDevices` with the account's wrapping key |
// | an allergy's substance          | the clinician's `records.get`                |
// | a link's label and counts       | `io.links()` on the patient's other device   |
// | the name a link's viewer typed  | `io.linkAccesses()` on the same              |
//
// The login name is kept in clear on purpose (sign-in on a new device looks the account up by it; see
// docs/architecture.md, "What the server stores"): the scan finds it, which shows the scan reads the
// files it claims to read.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createAccount,
  createHttpApi,
  joinWithPassphrase,
  listDevices,
  openGrantPurpose,
  openLink,
  type DeviceSession,
} from '@hale/client/advanced';
import { backupSqlite, createLogger } from '@hale/sync-server';
import { useServer } from '../support/fixture';
import { accountDeps, asTestAccount, ed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { ioOf } from '../support/fhir-r4';

const PURPOSE = 'HIV follow-up at Ravenholm clinic';
const NAMES = ['Zebulon iPhone Quartz', 'Quillfeather Laptop', 'Vantablack Clinic Tablet'];
const SUBSTANCE = 'Zygomycetin-4471';
const LINK_LABEL = 'Xanthoria handout for the walk-in clinic';
const VIEWER = 'Dr Obadiah Wrenfeather';
/** Two allergies shared: each count as the link's contents would hold it in JSON. */
const COUNT = '"count":2';

/** Every regular file under `dir`, recursively. */
const filesUnder = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));

/** Which of `needles` occur (as UTF-8 or UTF-16LE bytes) in any of `files` or in `logs`, with where. */
const found = async (needles: string[], files: string[], logs: string): Promise<string[]> => {
  const hits: string[] = [];
  const contents = await Promise.all(files.map(async (f) => [f, await readFile(f)] as const));
  for (const needle of needles) {
    for (const [file, bytes] of contents) {
      if (bytes.includes(Buffer.from(needle, 'utf8')) || bytes.includes(Buffer.from(needle, 'utf16le')))
        hits.push(`${needle} in ${path.basename(file)}`);
    }
    if (logs.includes(needle)) hits.push(`${needle} in the log`);
  }
  return hits;
};

describe('a hostile operator reading the server files and logs', () => {
  const logs: string[] = [];
  const server = useServer({
    realClock: true,
    logger: createLogger('trace', { write: (line: string) => void logs.push(line) }),
  });

  it('finds no purpose, device name, record content, link label, count or viewer; the devices show them', async () => {
    const t = server.t;
    const open = async (...args: Parameters<typeof openDevice>): Promise<DeviceSession> => {
      const s = await openDevice(...args);
      server.sessions.push(s);
      await waitOnline(s);
      return s;
    };
    const loginName = `scan-${Math.random().toString(36).slice(2, 10)}`;
    const { account: phone } = await createAccount(accountDeps(t.url), {
      role: 'patient',
      passphrase: 'the first passphrase',
      loginName,
      deviceName: NAMES[0]!,
    });
    const laptop = await joinWithPassphrase(accountDeps(t.url), {
      loginName,
      passphrase: 'the first passphrase',
      deviceName: NAMES[1]!,
    });
    const { account: clinician } = await createAccount(accountDeps(t.url), {
      role: 'provider',
      passphrase: 'the clinic passphrase',
      loginName: `${loginName}-dr`,
      deviceName: NAMES[2]!,
    });

    const p = await open(t, asTestAccount(phone), { sessionAccount: phone });
    const l = await open(t, asTestAccount(laptop), { sessionAccount: laptop });
    const d = await open(t, asTestAccount(clinician), { sessionAccount: clinician });
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: SUBSTANCE }));
    const granted = await p.consent.grant({
      granteeId: clinician.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 86_400_000,
      purpose: PURPOSE,
    });
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the clinician has the allergy');
    await eventually(async () => (await l.records.get(allergy.id)) !== null, 'the laptop has the allergy');

    // The devices show what the server cannot read.
    expect((await p.consent.list()).map((g) => g.purpose)).toEqual([PURPOSE]);
    expect(
      openGrantPurpose(granted.grant, { accountId: clinician.accountId, wrapping: clinician.keys.wrapping }),
    ).toBe(PURPOSE);
    const devices = await listDevices(
      { api: createHttpApi({ baseUrl: t.url, fetch }), ed },
      {
        accountId: phone.accountId,
        identityPublicKey: phone.keys.identity.publicKey,
        deviceId: phone.device.deviceId,
        wrapping: phone.keys.wrapping,
      },
    );
    expect(devices.active.map((a) => a.name).sort()).toEqual([NAMES[0], NAMES[1]].sort());
    expect(((await d.records.get(allergy.id))?.record as { substance?: string }).substance).toBe(SUBSTANCE);

    // A shared link of the two allergies, opened by a viewer who gives a name; the laptop shows them.
    await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const shared = await ioOf(t.url, p).shareSummary({ label: LINK_LABEL, kinds: ['Allergy'] });
    expect(JSON.stringify(await openLink(fetch, shared.link, { recipient: VIEWER }))).toContain(SUBSTANCE);
    const laptopIo = ioOf(t.url, l);
    expect(await laptopIo.links()).toMatchObject([
      { label: LINK_LABEL, contents: [{ type: 'allergy', count: 2 }] },
    ]);
    expect((await laptopIo.linkAccesses(shared.linkId)).map((a) => a.recipient)).toEqual([VIEWER]);

    // A backup taken while it runs, where the operator keeps them (outside the data directory).
    const backups = await mkdtemp(path.join(tmpdir(), 'hale-scan-backups-'));
    await backupSqlite(t.store, path.join(backups, 'hale-backup.sqlite'));

    const needles = [
      ...[PURPOSE, 'Ravenholm', ...NAMES, 'Zebulon', 'Quillfeather', 'Vantablack', SUBSTANCE],
      ...[LINK_LABEL, 'Xanthoria', VIEWER, 'Wrenfeather', COUNT],
    ];
    const running = [...(await filesUnder(t.dataDir)), ...(await filesUnder(backups))];
    expect(running.map((f) => path.basename(f))).toEqual(
      expect.arrayContaining(['hale.sqlite', 'hale.sqlite-wal', 'hale.sqlite-shm', 'hale-backup.sqlite']),
    );
    expect(logs.length).toBeGreaterThan(0);
    expect(await found(needles, running, logs.join('\n'))).toEqual([]);
    // The control: what is kept in clear is found by the same scan.
    expect(await found([loginName], running, '')).not.toEqual([]);

    // And once the server stopped (the WAL checkpointed into the database).
    await Promise.all(server.sessions.splice(0).map((s) => s.close()));
    await t.stop({ keepData: true });
    try {
      const stopped = [...(await filesUnder(t.dataDir)), ...(await filesUnder(backups))];
      expect(await found(needles, stopped, logs.join('\n'))).toEqual([]);
    } finally {
      await rm(t.dataDir, { recursive: true, force: true });
      await rm(backups, { recursive: true, force: true });
    }
  });
});
