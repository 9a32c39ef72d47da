// The parties of a convergence test, opened as the app opens them (`openHaleForTests` over `nodePlatform`,
// each with its own shaped network): a patient's devices, a clinician with a write grant, and what each
// holds of a set of records, compared with the server's current rows.
import { canonicalJson } from '@hale/crypto';
import type { HaleSession, SyncIssue } from '@hale/client';
import { openHaleForTests, type HaleTestKnobs } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { parseRevTag } from '@hale/protocol';
import type { TestServer } from '@hale/sync-server/testing';
import { PASSPHRASE } from '../client-api/hale-devices';
import { shapedPlatform, type ShapedNetwork } from './transport';

export interface Party {
  readonly name: string;
  readonly session: HaleSession;
  readonly network: ShapedNetwork;
}

/** Reconnects and retries within milliseconds, so a server restart or a dropped socket costs a test little. */
export const FAST_KNOBS: HaleTestKnobs = {
  session: { reconnect: { initialMs: 20, maxMs: 200 }, busyRetry: { retryMs: 20, baseMs: 20, maxMs: 200 } },
};

let counter = 0;
const login = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}`;

const hale = async (server: string, knobs: HaleTestKnobs) => {
  const { platform, network } = shapedPlatform(nodePlatform());
  return { hale: await openHaleForTests({ server, platform }, knobs), network };
};

/** A new account's first device. */
export const newAccount = async (
  server: string,
  name: string,
  role: 'patient' | 'provider' = 'patient',
  knobs: HaleTestKnobs = FAST_KNOBS,
): Promise<Party & { loginName: string }> => {
  const { hale: h, network } = await hale(server, knobs);
  const loginName = login(role);
  const { session } = await h.createAccount({ role, passphrase: PASSPHRASE, loginName, deviceName: name });
  return { name, session, network, loginName };
};

/** Another device of the account `loginName`. */
export const joinAccount = async (
  server: string,
  name: string,
  loginName: string,
  knobs: HaleTestKnobs = FAST_KNOBS,
): Promise<Party> => {
  const { hale: h, network } = await hale(server, knobs);
  const session = await h.join({ loginName, passphrase: PASSPHRASE, deviceName: name });
  return { name, session, network };
};

/** The patient compares the clinician's key (its invite) and grants it write access to allergies for a day. */
export const grantAllergyWrite = async (patient: HaleSession, clinician: HaleSession): Promise<void> => {
  await patient.consent.acceptInvite(clinician.consent.invite());
  await patient.consent.grant({
    granteeId: clinician.account.accountId,
    scope: [{ type: 'allergy', access: 'write' }],
    durationMs: 24 * 3_600_000,
    purpose: 'care',
  });
};

/** Issues that say the server misbehaved or a change was refused: never raised by an honest server. */
export const FALSE_ALARMS = new Set(['HEAD_ROLLED_BACK', 'HEAD_WITHHELD', 'REV_MISMATCH', 'STALE_VERSION']);
export const falseAlarms = (p: Party): SyncIssue[] =>
  p.session.sync.issues.get().filter((i) => FALSE_ALARMS.has(i.code));

/** What a party holds of record `id`: its number, deletion and content (canonical), or null. */
export const held = async (p: Party, id: string) => {
  const r = await p.session.records.get(id);
  return r === null
    ? null
    : { rv: r.rv, conflict: r.conflict, content: canonicalJson({ record: r.record, other: r.conflictData }) };
};

/** The server's current revision number and deletion of each of `ids`. */
export const serverRows = (t: Pick<TestServer, 'store'>, ids: readonly string[]) => {
  const rows = t.store.db
    .prepare(`SELECT id, rev, deleted FROM docs WHERE id IN (${ids.map(() => '?').join(',')})`)
    .all(...ids) as Array<{ id: string; rev: string; deleted: number }>;
  return new Map(rows.map((r) => [r.id, { rv: parseRevTag(r.rev)!.n, deleted: r.deleted === 1 }]));
};

/**
 * Where each of `parties` differs from the server (number, deletion) or from the first party (content,
 * conflict flag), one line per record; empty when all agree.
 */
export const differences = async (
  t: Pick<TestServer, 'store'>,
  parties: readonly Party[],
  ids: readonly string[],
): Promise<string[]> => {
  const server = serverRows(t, ids);
  const out: string[] = [];
  for (const id of ids) {
    const want = server.get(id);
    const copies = await Promise.all(parties.map((p) => held(p, id)));
    const first = copies[0];
    copies.forEach((c, n) => {
      const who = parties[n]!.name;
      if (want === undefined) {
        if (c !== null) out.push(`${id}: ${who} holds rv ${c.rv}, the server nothing`);
      } else if (want.deleted) {
        if (c !== null) out.push(`${id}: ${who} shows rv ${c.rv}, the server deleted it at ${want.rv}`);
      } else if (c === null) out.push(`${id}: ${who} holds nothing, the server rv ${want.rv}`);
      else if (c.rv !== want.rv) out.push(`${id}: ${who} holds rv ${c.rv}, the server ${want.rv}`);
      else if (first && (c.content !== first.content || c.conflict !== first.conflict))
        out.push(`${id}: ${who}'s content differs from ${parties[0]!.name}'s at rv ${c.rv}`);
    });
  }
  return out;
};

/** Seeded pseudo-random numbers (Park–Miller), for the offsets of a reproduction. */
export const seeded = (seed: number): (() => number) => {
  let s = seed % 2_147_483_647 || 1;
  return () => (s = (s * 16_807) % 2_147_483_647) / 2_147_483_647;
};

/** Resolves once `check` holds, polling every 20 ms; fails naming `what` after `ms` (a ceiling for a loaded machine). */
export const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 45_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
