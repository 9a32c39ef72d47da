import { describe, expect, it } from 'vitest';
import {
  CLIENT_EXAMPLES,
  DEVICE,
  GRANT_ID,
  GRANT_ID_2,
  PATIENT,
  PROVIDER,
  RECORD,
  SIG,
  T0,
  T1,
  auditDoc,
  registerBody,
  servedDoc,
} from './examples.test-util';
import {
  SIGNATURE_LABELS,
  accountSignaturePayload,
  auditSignaturePayload,
  authSignaturePayload,
  deviceRevocationPayload,
  directoryProfilePayload,
  docSignaturePayload,
  envelopeSignaturePayload,
  grantSignaturePayload,
  revocationSignaturePayload,
  roleSignaturePayload,
  wrappingKeySignaturePayload,
} from './signing';

describe('signature payloads', () => {
  it('use a distinct label per purpose, so signatures cannot be replayed across purposes', () => {
    const labels = Object.values(SIGNATURE_LABELS);
    expect(new Set(labels).size).toBe(labels.length);
    for (const label of labels) expect(label).toMatch(/^hale\/[a-z-]+\/v[1-9][0-9]*$/);
  });

  it('doc payload binds stream, id, rev, deleted, epoch and author — and nothing server-assigned', () => {
    const doc = servedDoc({ sig: SIG });
    const payload = docSignaturePayload(doc);
    expect(payload).toStrictEqual({
      label: 'hale/doc/v1',
      stream: doc.stream,
      id: doc.id,
      rev: doc.rev,
      deleted: false,
      epoch: 0,
      author: DEVICE,
    });
    const later = { ...doc, seq: 99, at: T1, sig: 'other', uiState: 'x' };
    expect(docSignaturePayload(later)).toStrictEqual(payload);
    for (const change of [
      { rev: '2-0123456789abcdef01234567' },
      { deleted: true },
      { epoch: 1 },
      { author: 'AnotherDevice_01234567' },
    ]) {
      expect(docSignaturePayload({ ...doc, ...change })).not.toStrictEqual(payload);
    }
  });

  it('audit payload binds the chain position and the sealed body', () => {
    const doc = auditDoc();
    const payload = auditSignaturePayload({
      ...doc,
      audit: doc.audit ?? { authorSeq: 1, prevHash: null, at: T0 },
    });
    expect(payload).toMatchObject({
      label: 'hale/audit/v1',
      authorSeq: 1,
      prevHash: null,
      at: T0,
      ct: doc.ct,
    });
    const header = { authorSeq: 1, prevHash: null, at: T0 };
    expect(auditSignaturePayload({ ...doc, audit: header, ct: 'AAAA' })).not.toStrictEqual(payload);
    expect(auditSignaturePayload({ ...doc, audit: { ...header, authorSeq: 2 } })).not.toStrictEqual(payload);
  });

  it('copies only declared fields even when the input carries extras', () => {
    const frame = CLIENT_EXAMPLES.find((f) => f.t === 'grant');
    if (frame?.t !== 'grant') throw new Error('example missing');
    const grantWithExtras = {
      ...frame.grant.grant,
      uiState: 'open',
      scope: [{ type: 'allergy' as const, access: 'read' as const, note: 'x' }],
    };
    const payload = grantSignaturePayload(grantWithExtras);
    expect(payload).not.toHaveProperty('uiState');
    expect(payload.scope).toStrictEqual([{ type: 'allergy', access: 'read' }]);
    expect(payload.label).toBe('hale/grant/v1');

    const revocation = { v: 1 as const, grantId: GRANT_ID, patientId: PATIENT, revokedAt: T1, extra: true };
    expect(revocationSignaturePayload(revocation)).toStrictEqual({
      label: 'hale/revocation/v1',
      v: 1,
      grantId: GRANT_ID,
      patientId: PATIENT,
      revokedAt: T1,
    });
  });

  it('grant payload: a grant without `supersedes` signs exactly what it always did; one with it signs it too', () => {
    const frame = CLIENT_EXAMPLES.find((f) => f.t === 'grant');
    if (frame?.t !== 'grant') throw new Error('example missing');
    const { supersedes, ...plain } = frame.grant.grant;
    expect(supersedes).toBe(GRANT_ID_2);
    const before = {
      label: 'hale/grant/v1',
      v: 1,
      grantId: GRANT_ID,
      patientId: PATIENT,
      granteeId: PROVIDER,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'lab-result', access: 'write' },
      ],
      start: T0,
      expiresAt: T1,
      purpose: { ct: 'dHJlYXRtZW50', patient: 'dHJlYXRtZW50', grantee: 'dHJlYXRtZW50' },
      issuedAt: T0,
    };
    // The payload (and so the canonical bytes signed) of a grant signed before the field, key for key.
    expect(grantSignaturePayload(plain)).toStrictEqual(before);
    expect(Object.keys(grantSignaturePayload(plain))).toStrictEqual(Object.keys(before));
    // An absent field, also one set to undefined, adds no key (canonical JSON would differ).
    const undefinedField = { ...plain, supersedes: undefined } as unknown as typeof plain;
    expect(grantSignaturePayload(undefinedField)).toStrictEqual(before);
    expect(grantSignaturePayload(frame.grant.grant)).toStrictEqual({ ...before, supersedes: GRANT_ID_2 });
    expect(grantSignaturePayload({ ...plain, supersedes: RECORD })).not.toStrictEqual(
      grantSignaturePayload(frame.grant.grant),
    );
  });

  it('auth payload names the server so a signed challenge cannot be relayed elsewhere', () => {
    const a = authSignaturePayload({ nonce: 'n', deviceId: DEVICE, serverId: 'server-a' });
    const b = authSignaturePayload({ nonce: 'n', deviceId: DEVICE, serverId: 'server-b' });
    expect(a.label).toBe('hale/auth/v1');
    expect(a).not.toStrictEqual(b);
  });

  it('omits absent optional fields instead of writing undefined (canonical JSON would differ)', () => {
    const body = registerBody();
    const { loginName: _omit, ...account } = body.account;
    expect(Object.keys(accountSignaturePayload(account))).not.toContain('loginName');
    expect(accountSignaturePayload(body.account).loginName).toBe('alice.smith');
    const profile = {
      accountId: PATIENT,
      displayName: 'Dr A',
      specialty: 'GP',
      clinic: 'C',
      identifier: '1',
    };
    expect(Object.keys(directoryProfilePayload(profile))).not.toContain('contact');
    const kdf = { ...body.account.wrappedRoot.kdf, extra: 1 };
    const withExtra = { ...body.account, wrappedRoot: { ...body.account.wrappedRoot, kdf } };
    expect(accountSignaturePayload(withExtra).wrappedRoot.kdf).not.toHaveProperty('extra');
  });

  it('device and envelope payloads carry their labels and fields', () => {
    expect(
      deviceRevocationPayload({ v: 1, accountId: PATIENT, deviceId: DEVICE, revokedAt: T1 }),
    ).toMatchObject({ label: 'hale/device-revocation/v1', deviceId: DEVICE });
    const envelope = {
      stream: servedDoc().stream,
      epoch: 3,
      recipient: PATIENT,
      keyId: 'k',
      wrapped: 'w',
      createdBy: DEVICE,
    };
    expect(envelopeSignaturePayload(envelope)).toStrictEqual({ label: 'hale/envelope/v1', ...envelope });
  });

  it('the wrapping-key payload covers the account, its identity key and its wrapping key, nothing secret', () => {
    const { account } = registerBody();
    expect(wrappingKeySignaturePayload(account)).toStrictEqual({
      label: 'hale/wrapping-key/v1',
      accountId: account.accountId,
      identityPublicKey: account.identityPublicKey,
      wrappingPublicKey: account.wrappingPublicKey,
    });
  });

  it('the role payload covers the account, its identity key and its role, nothing secret', () => {
    const { account } = registerBody();
    expect(roleSignaturePayload(account)).toStrictEqual({
      label: 'hale/account-role/v1',
      accountId: account.accountId,
      identityPublicKey: account.identityPublicKey,
      role: 'patient',
    });
    expect(roleSignaturePayload({ ...account, role: 'provider' }).role).toBe('provider');
  });
});
