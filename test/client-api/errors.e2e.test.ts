// Every expected failure the public surface throws is a HaleError a screen can switch on: a stable code
// from its area's table, a sentence for a person (no secret in it), and the input field or record it
// concerns. One failure of each error class an app meets, provoked through `openHale`'s Hale and session.
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_ERROR_CODES,
  FILE_ERROR_CODES,
  HALE_ERRORS,
  isHaleError,
  type HaleError,
  type HaleErrorCode,
  type HaleSession,
} from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { useServer } from '../support/fixture';
import { PASSPHRASE, createdSession, online, useHaleSessions } from './hale-devices';

interface Expected {
  readonly class: string;
  readonly code: HaleErrorCode;
  readonly field?: string;
  readonly recordId?: string;
}

/** What `run` rejected with, or a failure of the test when it resolved or threw something else. */
const failureOf = async (run: () => unknown): Promise<HaleError> => {
  let thrown: unknown;
  try {
    await run();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error('expected a failure, the call succeeded');
  if (!isHaleError(thrown))
    throw new Error(`not a HaleError: ${thrown instanceof Error ? thrown.stack : JSON.stringify(thrown)}`);
  return thrown;
};

const checkError = (e: HaleError, expected: Expected): void => {
  expect(e.constructor.name).toBe(expected.class);
  expect(isHaleError(e, expected.code)).toBe(true);
  // Its code is one of the client's one table, with words a screen shows.
  expect(HALE_ERRORS[e.code]?.words).toMatch(/\w/);
  expect({ code: e.code, field: e.field, recordId: e.recordId }).toEqual({
    code: expected.code,
    field: expected.field,
    recordId: expected.recordId,
  });
  // A sentence for a person: words, and never the passphrase typed.
  expect((e.message.match(/\b[a-zA-Z]{2,}\b/g) ?? []).length, e.message).toBeGreaterThanOrEqual(3);
  expect(e.message).not.toContain(PASSPHRASE);
};

describe('errors from the public surface', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();
  const withSession = async (): Promise<HaleSession> =>
    (await createdSession(server.t.url, sessions)).session;

  it('AccountError: sign-up and unlock refusals name the field; a locked session refuses LOCKED', async () => {
    const vaultless = await openHaleForTests({ server: server.t.url, platform: nodePlatform() });
    checkError(await failureOf(() => vaultless.unlock({ passphrase: PASSPHRASE })), {
      class: 'AccountError',
      code: 'NO_ACCOUNT',
    });
    checkError(
      await failureOf(() =>
        vaultless.createAccount({ role: 'patient', passphrase: 'short', deviceName: 'laptop' }),
      ),
      { class: 'AccountError', code: 'WEAK_PASSPHRASE', field: 'passphrase' },
    );
    checkError(
      await failureOf(() =>
        vaultless.createAccount({
          role: 'patient',
          passphrase: PASSPHRASE,
          loginName: 'no spaces allowed',
          deviceName: 'laptop',
        }),
      ),
      { class: 'AccountError', code: 'INVALID_LOGIN_NAME', field: 'loginName' },
    );

    const platform = nodePlatform();
    const hale = await openHaleForTests({ server: server.t.url, platform });
    const { session } = await hale.createAccount({
      role: 'patient',
      passphrase: PASSPHRASE,
      deviceName: 'a',
    });
    await session.close();
    checkError(await failureOf(() => hale.unlock({ passphrase: `${PASSPHRASE}!` })), {
      class: 'AccountError',
      code: 'WRONG_PASSPHRASE',
      field: 'passphrase',
    });
    const unlocked = await hale.unlock({ passphrase: PASSPHRASE });
    await unlocked.lock();
    checkError(
      await failureOf(() =>
        unlocked.records.add('Allergy', {
          substance: 'Latex',
          severity: 'mild',
          recordedAt: new Date().toISOString(),
          active: true,
        }),
      ),
      { class: 'AccountError', code: 'LOCKED' },
    );
    expect(ACCOUNT_ERROR_CODES).toContain('INVALID_PROFILE');

    const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
    checkError(
      await failureOf(() =>
        clinic.directory.publishProfile({ displayName: 'Dr. Lee' } as Parameters<
          HaleSession['directory']['publishProfile']
        >[0]),
      ),
      { class: 'AccountError', code: 'INVALID_PROFILE', field: 'specialty' },
    );
  });

  it('RecordError: a form field refused, a record that is gone, a decision about another state, a bad list query', async () => {
    const session = await withSession();
    checkError(
      await failureOf(() =>
        session.records.add('Allergy', {
          substance: '',
          severity: 'mild',
          recordedAt: new Date().toISOString(),
          active: true,
        }),
      ),
      { class: 'RecordError', code: 'VALIDATION_FAILED', field: 'substance' },
    );
    const missing = '01J00000000000000000000000';
    checkError(await failureOf(() => session.records.update('Allergy', missing, { substance: 'Latex' })), {
      class: 'RecordError',
      code: 'NOT_FOUND',
      recordId: missing,
    });
    checkError(await failureOf(() => session.records.remove(missing)), {
      class: 'RecordError',
      code: 'NOT_FOUND',
      recordId: missing,
    });
    const allergy = await session.records.add('Allergy', {
      substance: 'Latex',
      severity: 'mild',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    checkError(await failureOf(() => session.records.update('Medication', allergy.id, { name: 'Aspirin' })), {
      class: 'RecordError',
      code: 'KIND_MISMATCH',
      recordId: allergy.id,
    });
    checkError(
      await failureOf(() => session.records.resolveConflict(allergy.id, 'keep', { expectedRv: 99 })),
      { class: 'RecordError', code: 'RECORD_CHANGED', recordId: allergy.id },
    );
    checkError(await failureOf(() => session.search(42 as unknown as string)), {
      class: 'RecordError',
      code: 'VALIDATION_FAILED',
      field: 'query',
    });
    checkError(await failureOf(() => session.records.list('Allergy', { limit: -5 })), {
      class: 'RecordError',
      code: 'VALIDATION_FAILED',
      field: 'limit',
    });
  });

  it('ConsentError: a grant refused names the request field; an unknown grant or invite is named by code', async () => {
    const session = await withSession();
    const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await online(session);
    const granteeId = clinic.account.accountId;
    const scope = [{ type: 'allergy' as const, access: 'read' as const }];
    checkError(
      await failureOf(() =>
        session.consent.grant({ granteeId, scope: [], durationMs: 3_600_000, purpose: 'x' }),
      ),
      { class: 'ConsentError', code: 'BAD_SCOPE', field: 'scope' },
    );
    checkError(
      await failureOf(() =>
        session.consent.grant({
          granteeId,
          scope,
          durationMs: 3_600_000,
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          purpose: 'x',
        }),
      ),
      { class: 'ConsentError', code: 'BAD_EXPIRY', field: 'expiresAt' },
    );
    checkError(
      await failureOf(() =>
        session.consent.grant({ granteeId, scope, durationMs: 3_600_000, purpose: 'p'.repeat(5_000) }),
      ),
      { class: 'ConsentError', code: 'BAD_GRANT', field: 'purpose' },
    );
    checkError(
      await failureOf(() =>
        session.consent.grant({ granteeId: 'not-an-account', scope, durationMs: 3_600_000, purpose: 'x' }),
      ),
      { class: 'ConsentError', code: 'BAD_ACCOUNT_ID', field: 'granteeId' },
    );
    checkError(await failureOf(() => session.consent.revoke('01J00000000000000000000000')), {
      class: 'ConsentError',
      code: 'NOT_FOUND',
    });
    checkError(await failureOf(() => session.consent.acceptInvite('hello')), {
      class: 'ConsentError',
      code: 'BAD_INVITE',
    });
  });

  it('FileError: a file input refused names the field', async () => {
    const session = await withSession();
    await online(session);
    checkError(
      await failureOf(() =>
        session.files.put({
          type: 'document',
          bytes: new Uint8Array([1, 2, 3]),
          fileName: '',
          mediaType: 'application/pdf',
        }),
      ),
      { class: 'FileError', code: 'INVALID_INPUT', field: 'fileName' },
    );
    const file = await session.files.put({
      type: 'document',
      bytes: new Uint8Array([1, 2, 3]),
      fileName: 'a.txt',
      mediaType: 'text/plain',
    });
    checkError(await failureOf(() => session.files.get({ ...file, sha256: 'nope' }, { type: 'document' })), {
      class: 'FileError',
      code: 'INVALID_INPUT',
      field: 'fileRef.sha256',
    });
    expect(FILE_ERROR_CODES).toContain('INVALID_INPUT');
  });

  it('SyncError and HaleClientError: a version not set aside; a server that is not there', async () => {
    const session = await withSession();
    const stream = `${session.account.accountId}/allergy`;
    const id = '01J00000000000000000000000';
    checkError(await failureOf(() => session.sync.quarantinedVersion({ stream, id, rev: '1-abc' })), {
      class: 'SyncError',
      code: 'NOT_QUARANTINED',
    });
    // The HTTP calls fail as HaleClientError NETWORK.
    const gone = await openHaleForTests({ server: 'http://127.0.0.1:9', platform: nodePlatform() });
    checkError(
      await failureOf(() => gone.join({ loginName: 'someone', passphrase: PASSPHRASE, deviceName: 'x' })),
      { class: 'HaleClientError', code: 'NETWORK' },
    );
  });

  it('VaultFileError (@hale/platform-node): a vault that cannot be read is refused, never read as empty', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hale-vault-'));
    const notAFile = path.join(dir, 'vault.json');
    await mkdir(notAFile);
    const hale = await openHaleForTests({
      server: server.t.url,
      platform: nodePlatform({ vaultFile: notAFile }),
    });
    checkError(await failureOf(() => hale.hasAccount()), {
      class: 'VaultFileError',
      code: 'VAULT_UNREADABLE',
    });
  });
});
