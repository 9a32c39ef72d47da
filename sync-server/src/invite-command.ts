// `hale-sync-server invite`: create, list and revoke invite codes, with the server running or stopped
// (store/invite-store.ts says why a second connection is sound). A new code goes to stdout alone, so
// `CODE=$(hale-sync-server invite)` works; what it is and how long it lasts go to stderr. The code is shown
// this once: the store keeps only its hash.
import { normalizeInviteCode } from '@hale/protocol';
import type { InviteCommand } from './config';
import { formatInviteCode, inviteCodeHash, inviteId, newInviteCode } from './store/invites';
import { openInviteStore } from './store/invite-store';
import { StoreError, type Invite } from './store/types';

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
 * The invite `target` names: a code (as typed: `normalizeInviteCode` folds it) or an id from the listing
 * (its first hex digits). NOT_FOUND when none or, for an id, more than one matches.
 */
const findInvite = (invites: Invite[], target: string): Invite => {
  const code = normalizeInviteCode(target);
  const id = target.trim().toLowerCase();
  const matches =
    code !== null
      ? invites.filter((i) => i.codeHash === inviteCodeHash(code))
      : /^[0-9a-f]{6,64}$/.test(id)
        ? invites.filter((i) => i.codeHash.startsWith(id))
        : [];
  const [match, ...others] = matches;
  if (match === undefined || others.length > 0) {
    throw new StoreError(
      'NOT_FOUND',
      `no invite with the code or id ${JSON.stringify(target)}${others.length > 0 ? ' (several ids start so: give more of it)' : ''}; see invite --list`,
    );
  }
  return match;
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
          'A server asks for it only when it runs with --registration invite (HALE_REGISTRATION=invite)' +
          `${besideRunningServer ? '; the running server takes it from now on' : ''}.\n`,
      );
      return;
    }
    const invites = await store.invites.list();
    if (command.action === 'list') {
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
    const target = findInvite(invites, command.target);
    const revoked = await store.invites.revoke(target.codeHash, now);
    io.out(
      target.revokedAt === undefined
        ? `revoked invite ${inviteId(revoked.codeHash)}\n`
        : `invite ${inviteId(revoked.codeHash)} was already revoked at ${target.revokedAt}\n`,
    );
  } finally {
    await store.close();
  }
};
