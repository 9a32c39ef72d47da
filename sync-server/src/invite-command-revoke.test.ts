// `invite --revoke` in process, on a real store file: a code is revoked by its hash alone (no listing of
// every invite), an id by its listed prefix, also when it is long enough to have a code's form.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runInviteCommand, type InviteCommandIo } from './invite-command';
import { formatInviteCode, inviteCodeHash, inviteId, newInviteCode } from './store/invites';
import type * as InviteStoreModule from './store/invite-store';
import { openSqliteStore } from './store/sqlite-store';
import { useTempDirs } from './store/temp-dirs.test-util';
import { isStoreError, type Invite } from './store/types';

/** How often the command listed the invites, over every store it opened. */
const listed = vi.hoisted(() => ({ calls: 0 }));

vi.mock('./store/invite-store', async (importOriginal) => {
  const actual = await importOriginal<typeof InviteStoreModule>();
  return {
    ...actual,
    openInviteStore: async (dataDir: string) => {
      const opened = await actual.openInviteStore(dataDir);
      const list = opened.store.invites.list.bind(opened.store.invites);
      opened.store.invites.list = () => {
        listed.calls++;
        return list();
      };
      return opened;
    },
  };
});

const newDir = useTempDirs('hale-invite-revoke-');
afterEach(() => {
  listed.calls = 0;
});

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

const invite = (codeHash: string): Invite => ({
  codeHash,
  uses: 1,
  usesLeft: 1,
  expiresAt: new Date(T0 + 86_400_000).toISOString(),
  createdAt: new Date(T0).toISOString(),
});

/** A store holding `invites`, closed again (the command opens it itself). */
const storeWith = async (invites: Invite[]): Promise<string> => {
  const dataDir = newDir();
  const store = await openSqliteStore({ dataDir });
  try {
    for (const i of invites) await store.invites.put(i);
  } finally {
    await store.close();
  }
  return dataDir;
};

const revoke = async (dataDir: string, target: string, nowMs: number): Promise<string> => {
  let out = '';
  const io: InviteCommandIo = {
    out: (text) => (out += text),
    err: () => undefined,
    now: () => nowMs,
  };
  await runInviteCommand({ action: 'revoke', target }, dataDir, io);
  return out;
};

const revokedAtOf = async (dataDir: string): Promise<Map<string, string | undefined>> => {
  const store = await openSqliteStore({ dataDir });
  try {
    return new Map((await store.invites.list()).map((i) => [i.codeHash, i.revokedAt]));
  } finally {
    await store.close();
  }
};

describe('invite --revoke', () => {
  it('revokes a code by its hash without listing the invites; again, says since when', async () => {
    const code = newInviteCode();
    const other = newInviteCode();
    const dataDir = await storeWith([invite(inviteCodeHash(code)), invite(inviteCodeHash(other))]);
    const id = inviteId(inviteCodeHash(code));
    // As a person pastes it back: lower case, blanks for hyphens.
    const typed = formatInviteCode(code).toLowerCase().replaceAll('-', ' ');
    expect(await revoke(dataDir, typed, T0 + 1_000)).toBe(`revoked invite ${id}\n`);
    expect(await revoke(dataDir, code, T0 + 2_000)).toBe(
      `invite ${id} was already revoked at ${new Date(T0 + 1_000).toISOString()}\n`,
    );
    expect(listed.calls).toBe(0);
    expect(await revokedAtOf(dataDir)).toEqual(
      new Map([
        [inviteCodeHash(code), new Date(T0 + 1_000).toISOString()],
        [inviteCodeHash(other), undefined],
      ]),
    );
  });

  it('refuses a code no invite has, changing nothing', async () => {
    const kept = newInviteCode();
    const dataDir = await storeWith([invite(inviteCodeHash(kept))]);
    let error: unknown = null;
    try {
      await revoke(dataDir, newInviteCode(), T0);
    } catch (caught) {
      error = caught;
    }
    expect(isStoreError(error, 'NOT_FOUND')).toBe(true);
    expect(error instanceof Error ? error.message : '').toMatch(/^no invite with the code or id ".+"; see/);
    expect(listed.calls).toBe(0);
    expect(await revokedAtOf(dataDir)).toEqual(new Map([[inviteCodeHash(kept), undefined]]));
  });

  it('revokes by id; an id shared by two needs more digits, also 16 or more (a code’s form)', async () => {
    // Two invites whose listed ids (first 12 hex digits) are the same.
    const shared = 'abcdef012345';
    const first = `${shared}1111${'0'.repeat(48)}`;
    const second = `${shared}2222${'0'.repeat(48)}`;
    const dataDir = await storeWith([invite(first), invite(second)]);
    await expect(revoke(dataDir, shared, T0)).rejects.toThrow(/several ids start so: give more of it/);
    expect(await revoke(dataDir, `${shared}2222`, T0 + 1_000)).toBe(`revoked invite ${shared}\n`);
    expect(await revokedAtOf(dataDir)).toEqual(
      new Map([
        [first, undefined],
        [second, new Date(T0 + 1_000).toISOString()],
      ]),
    );
  });
});
