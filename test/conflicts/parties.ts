// The devices of a conflict test, opened as the app opens them (`openHaleForTests` over `nodePlatform`, its
// socket factory shaped so a test can cut the network, its storage given when a test gates it, its
// cryptography on a worker in the worker project) against a real server: a patient's lab result a
// clinician may write, when a device has pushed, and what a device set aside.
import type { RxStorage } from 'rxdb';
import { exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import type { HaleSession, RecordInput } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { PASSPHRASE, when } from '../client-api/hale-devices';
import { shapedPlatform, type ShapedNetwork } from '../convergence/transport';
import { createTestCryptoOffload, onCryptoWorkerProject } from '../support/test-offload';

/** A valid record input of `kind` (`exampleInput`), with `overrides`. */
export const input = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>> = {}): RecordInput<K> =>
  exampleInput(kind, overrides) as unknown as RecordInput<K>;

export interface Device {
  readonly session: HaleSession;
  readonly loginName: string;
  /** Its network: `cut()` drops the socket as a lost network does (the session reconnects). */
  readonly network: ShapedNetwork;
}

let counter = 0;

/**
 * A device (added to `sessions`, closed after the test): of a new account of `role`, or joining
 * `loginName`'s account with the passphrase; over `storage` when given (nodePlatform's memory otherwise).
 */
export const openDevice = async (
  server: string,
  sessions: HaleSession[],
  options: {
    role?: 'patient' | 'provider';
    join?: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    storage?: RxStorage<any, any>;
  } = {},
): Promise<Device> => {
  const node = nodePlatform(options.storage === undefined ? {} : { storage: options.storage });
  // The project 'e2e on a crypto worker' (vitest.config.ts): every batch on a worker of the session's own.
  const { platform, network } = shapedPlatform(
    onCryptoWorkerProject ? { ...node, cryptoOffload: () => createTestCryptoOffload() } : node,
  );
  const hale = await openHaleForTests({ server, platform });
  const name = `device ${++counter}`;
  if (options.join !== undefined) {
    const session = await hale.join({ loginName: options.join, passphrase: PASSPHRASE, deviceName: name });
    sessions.push(session);
    return { session, loginName: options.join, network };
  }
  const role = options.role ?? 'patient';
  const loginName = `${role}-${Date.now().toString(36)}-${counter.toString(36)}`;
  const { session } = await hale.createAccount({ role, passphrase: PASSPHRASE, loginName, deviceName: name });
  sessions.push(session);
  return { session, loginName, network };
};

/** Resolves once every local write of `s` was acknowledged by the server. */
export const pushed = (s: HaleSession, what = 'pushed') =>
  when(s.sync.state, (x) => x.pendingWrites === 0, what);

/** Resolves once `s` holds record `id`. */
export const holds = (s: HaleSession, id: string, what: string) =>
  when(s.records.one(id), (r) => r !== null, what);

/** What a device quarantined or holds unsent, as reasons. */
export const setAside = (s: HaleSession): string[] => [
  ...s.sync.quarantine.get().map((q) => `quarantined: ${q.reason}`),
  ...s.sync.unsent.get().map((u) => `unsent: ${u.code}`),
];

/**
 * A patient with one lab result and a clinician's device that holds a write grant to the patient's lab
 * results for an hour (its key compared by invite) and has received the lab result.
 */
export const clinicianWithLabWrite = async (
  server: string,
  sessions: HaleSession[],
  lab: RecordInput<'LabResult'>,
) => {
  const patient = await openDevice(server, sessions);
  const p = patient.session;
  const added = await p.records.add('LabResult', lab);
  await pushed(p);
  const clinician = await openDevice(server, sessions, { role: 'provider' });
  const d = clinician.session;
  await when(d.sync.state, (x) => x.status === 'online', 'the clinician is online');
  await p.consent.acceptInvite(d.consent.invite());
  const grant = await p.consent.grant({
    granteeId: d.account.accountId,
    scope: [{ type: 'lab-result', access: 'write' }],
    durationMs: 3_600_000,
    purpose: 'follow-up',
  });
  await holds(d, added.id, 'the clinician has the lab result');
  return { patient, clinician, p, d, lab: added, grant };
};

/** Resolves once `check` holds, polling every 20 ms; fails naming `what` after `ms`. */
export const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
