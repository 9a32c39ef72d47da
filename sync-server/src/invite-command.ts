// `hale-sync-server invite`: create, list and revoke invite codes, with the server running or stopped
// (store/invite-store.ts says why a second connection is sound). A new code goes to stdout alone, so
// `CODE=$(hale-sync-server invite)` works; what it is and how long it lasts go to stderr. The code is shown
// this once: the store keeps only its hash.
//
// The command cannot ask the server which registration mode it runs with (it may be stopped), so a server
// start records it in the store once it listens (`recordRegistrationMode`, main.ts; a start that fails
// before, a port in use say, records nothing and the previous start's stays), and create and --list warn
// on stderr when the last recorded start was not `invite`: an operator handing out codes believes sign-ups
// are gated.
// A warning only (exit 0, the invite is made): codes are rightly made before a restart into `invite`.
import { normalizeInviteCode, REGISTRATION_MODES, type RegistrationMode } from '@hale/protocol';
import type { InviteCommand } from './config';
import { formatInviteCode, inviteCodeHash, inviteId, newInviteCode } from './store/invites';
import { openInviteStore } from './store/invite-store';
import { isStoreError, StoreError, type Invite, type SyncStore } from './store/types';

/** `serverState` key of the registration mode the server last started with. */
export const REGISTRATION_STATE_KEY = 'registration';

/** Records, once a server listens, the registration mode it runs with and when: what this command reports. */
export const recordRegistrationMode = (store: SyncStore, mode: RegistrationMode, at: string): Promise<void> =>
  store.serverState.put(REGISTRATION_STATE_KEY, mode, at);

const TO_REQUIRE_CODES = '--registration invite (HALE_REGISTRATION=invite)';

/** What to tell the operator about the mode the server last started with; null for `invite`. */
const registrationWarning = (recorded: { value: string; at: string } | null): string | null => {
  if (recorded === null) {
    return (
      'The registration mode of this server is unknown: no start of it with this version of Hale is ' +
      `recorded in its store. Invite codes are asked for only when it runs with ${TO_REQUIRE_CODES}.\n`
    );
  }
  const started = `This server last started at ${recorded.at} with registration`;
  // Read back from disk: only a mode this version knows is taken as one.
  const mode = REGISTRATION_MODES.find((m) => m === recorded.value);
  switch (mode) {
    case 'invite':
      return null;
    case 'open':
      return (
        `${started} open: anyone can sign up and invite codes are not asked for. ` +
        `Restart it with ${TO_REQUIRE_CODES} to require them.\n`
      );
    case 'closed':
      return (
        `${started} closed: no one can sign up, and invite codes are refused until it runs with ` +
        `${TO_REQUIRE_CODES}.\n`
      );
    case undefined:
      return (
        `${started} ${JSON.stringify(recorded.value)}, which this version of Hale does not know. ` +
        `Invite codes are asked for only when it runs with ${TO_REQUIRE_CODES}.\n`
      );
  }
};

export interface InviteCommandIo {
  out(text: string): void;
  err(text: string): void;
  now(): number;
}

const stateOf = (invite: Invite, nowMs: number): string =>
  invite.revokedAt !== undefined
    ? 'revoked'
    : Date.parse(invite.expiresAt) <= nowMs
      ? 'expired'
      : invite.usesLeft === 0
        ? 'used up'
        : 'active';

const describe = (invite: Invite): string =>
  `${invite.usesLeft} of ${invite.uses} use${invite.uses === 1 ? '' : 's'} left, ` +
  `${invite.role === undefined ? 'any role' : `${invite.role} accounts only`}, expires ${invite.expiresAt}`;

const table = (rows: string[][]): string => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

/**
 * Revokes the invite `target` names: a code (as typed: `normalizeInviteCode` folds it), revoked by its
 * hash without reading any other invite, or an id from the listing (its first hex digits). NOT_FOUND when
 * none or, for an id, more than one matches. `revokedBefore`: the earlier revocation time, if it had one.
 */
const revokeInvite = async (
  invites: SyncStore['invites'],
  target: string,
  now: string,
): Promise<{ invite: Invite; revokedBefore: string | undefined }> => {
  const id = target.trim().toLowerCase();
  const isId = /^[0-9a-f]{6,64}$/.test(id);
  const notFound = (several: boolean): StoreError =>
    new StoreError(
      'NOT_FOUND',
      `no invite with the code or id ${JSON.stringify(target)}${several ? ' (several ids start so: give more of it)' : ''}; see invite --list`,
    );
  const code = normalizeInviteCode(target);
  if (code !== null) {
    try {
      const invite = await invites.revoke(inviteCodeHash(code), now);
      // The store keeps the first revocation time: another one than ours was there before.
      return { invite, revokedBefore: invite.revokedAt === now ? undefined : invite.revokedAt };
    } catch (error) {
      if (!isStoreError(error, 'NOT_FOUND')) throw error;
      // No such code. Sixteen or more hex digits have a code's form too: an id given that long is next.
    }
  }
  if (!isId) throw notFound(false);
  const [match, ...others] = (await invites.list()).filter((i) => i.codeHash.startsWith(id));
  if (match === undefined || others.length > 0) throw notFound(others.length > 0);
  return { invite: await invites.revoke(match.codeHash, now), revokedBefore: match.revokedAt };
};

export const runInviteCommand = async (
  command: InviteCommand,
  dataDir: string,
  io: InviteCommandIo,
): Promise<void> => {
  const { store, besideRunningServer } = await openInviteStore(dataDir);
  try {
    const nowMs = io.now();
    const now = new Date(nowMs).toISOString();
    const warning =
      command.action === 'revoke'
        ? null
        : registrationWarning(await store.serverState.get(REGISTRATION_STATE_KEY));
    if (command.action === 'create') {
      const code = newInviteCode();
      const invite: Invite = {
        codeHash: inviteCodeHash(code),
        uses: command.uses,
        usesLeft: command.uses,
        expiresAt: new Date(nowMs + command.expiresInMs).toISOString(),
        createdAt: now,
      };
      if (command.role !== undefined) invite.role = command.role;
      if (command.note !== undefined) invite.note = command.note;
      await store.invites.put(invite);
      io.out(`${formatInviteCode(code)}\n`);
      io.err(
        `invite ${inviteId(invite.codeHash)}: ${describe(invite)}.\n` +
          'The code is shown only now (the server keeps only its hash): give it to the person who signs up.\n' +
          (warning ??
            `A server asks for it only when it runs with ${TO_REQUIRE_CODES}` +
              `${besideRunningServer ? '; the running server takes it from now on' : ''}.\n`),
      );
      return;
    }
    if (command.action === 'list') {
      if (warning !== null) io.err(warning);
      const invites = await store.invites.list();
      if (invites.length === 0) {
        io.err('no invites\n');
        return;
      }
      const rows = invites.map((i) => [
        inviteId(i.codeHash),
        stateOf(i, nowMs),
        `${i.usesLeft}/${i.uses}`,
        i.role ?? 'any',
        i.expiresAt,
        i.createdAt,
        i.note ?? '',
      ]);
      io.out(`${table([['ID', 'STATE', 'USES LEFT', 'ROLE', 'EXPIRES', 'CREATED', 'NOTE'], ...rows])}\n`);
      return;
    }
    const { invite, revokedBefore } = await revokeInvite(store.invites, command.target, now);
    io.out(
      revokedBefore === undefined
        ? `revoked invite ${inviteId(invite.codeHash)}\n`
        : `invite ${inviteId(invite.codeHash)} was already revoked at ${revokedBefore}\n`,
    );
  } finally {
    await store.close();
  }
};
