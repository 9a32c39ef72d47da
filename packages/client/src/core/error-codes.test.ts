// The one error table: no code twice, every code worded and with an action, append-only (pinned), and
// every area's code list and every code the platforms' vaults throw in it.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_CODE_LIST } from '@hale/protocol';
import {
  CLIENT_ERROR_ACTIONS,
  CLIENT_ERROR_CODE_LIST,
  HALE_ERRORS,
  HALE_ERROR_CODE_LIST,
  isHaleErrorCode,
} from './error-codes';
import { ACCOUNT_ERROR_CODES } from './account-error';
import { AUDIT_ERROR_CODES } from '../audit/errors';
import { PAIRING_ERROR_CODES } from '../pairing/errors';
import { FILE_ERROR_CODES } from '../files/file-errors';
import { QUEUED_BYTES_FAILURES } from '../files/upload-queue-store';
import { CARE_ERROR_CODES } from '../care/errors';
import { RECORDS_IO_ERROR_CODES } from '../io/io-error';
import { AT_REST_ERROR_CODES } from '../offload/at-rest-jobs';
import { CRYPTO_OFFLOAD_ERROR_CODES } from '../offload/crypto-offload';
import { DEVICE_META_ERROR_CODES } from '../store/device-meta';
import { DRAFT_ERROR_CODES } from '../hale/drafts';
import { RECORD_ERROR_CODES } from '../records/record-errors';
import { CONSENT_ERROR_CODES } from '../consent/consent-types';
import { SYNC_ERROR_CODES, syncErrorFromWire } from '../sync/connection';

// Append-only pin of the client's own codes: a new code goes at the END of this list and of the table.
// Removing, renaming or reordering one breaks an app that switches on it, and fails this test.
const PINNED = [
  'NETWORK',
  'BAD_RESPONSE',
  'TIMEOUT',
  'WRONG_PASSPHRASE',
  'INVALID_RECOVERY_KEY',
  'NO_ACCOUNT',
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_EXISTS',
  'ACCOUNT_MISMATCH',
  'VAULT_CORRUPT',
  'BAD_WRAPPED_ROOT',
  'WEAK_PASSPHRASE',
  'LOCKED',
  'NOT_A_PROVIDER',
  'WRAPPED_ROOT_REFUSED',
  'SESSION_ALREADY_OPEN',
  'VAULT_TOO_NEW',
  'INVALID_LOGIN_NAME',
  'WRAPPED_ROOT_UNSIGNED',
  'INVITE_REQUIRED',
  'INVITE_WRONG_ROLE',
  'REGISTRATION_UNCONFIRMED',
  'LOGIN_NAME_TAKEN',
  'PASSPHRASE_CHANGED_ELSEWHERE',
  'WEAK_KDF',
  'WRONG_RECOVERY_KEY',
  'INVALID_DEVICE_NAME',
  'ACCOUNT_NOT_SAVED',
  'ROLE_REFUSED',
  'ROLE_UNSIGNED',
  'PASSPHRASE_NOT_SAVED',
  'INVALID_PROFILE',
  'VALIDATION_FAILED',
  'NOT_STORABLE',
  'NOT_WRITABLE',
  'KIND_MISMATCH',
  'RECORD_CHANGED',
  'RECORD_FINAL',
  'AUTHOR_MISMATCH',
  'KEY_CHANGED',
  'UNKNOWN_ACCOUNT',
  'BAD_SCOPE',
  'BAD_EXPIRY',
  'BAD_INVITE',
  'WRAPPING_KEY_UNVERIFIED',
  'BAD_ACCOUNT_ID',
  'SERVER_TOO_OLD',
  'BAD_GRANT',
  'INVALID_PAIRING_CODE',
  'PAIRING_EXPIRED',
  'PAIRING_REFUSED',
  'PAIRING_CANCELLED',
  'PAIRING_TAMPERED',
  'PAIRING_WRONG_STATE',
  'PAIRING_UNSUPPORTED',
  'AUDIT_LOOKUP_UNVERIFIED',
  'AUDIT_NO_WRAPPING_KEY',
  'AUDIT_NOT_READABLE',
  'INVALID_INPUT',
  'NO_HTTP_API',
  'NO_KEY',
  'TAMPERED',
  'CONTEXT_MISMATCH',
  'SIZE_MISMATCH',
  'HASH_MISMATCH',
  'INCOMPLETE',
  'OFFLINE',
  'REFUSED',
  'KEYRING_FAILED',
  'QUEUE_FULL',
  'DELETED',
  'STORAGE_FAILED',
  'MISSING',
  'UNREADABLE',
  'READ_FAILED',
  'MISMATCH',
  'NOT_YOURS',
  'WRONG_STATE',
  'SLOT_TAKEN',
  'NOT_A_SLOT',
  'NO_GRANT',
  'NO_AVAILABILITY',
  'AVAILABILITY_FORGED',
  'NOTHING_KEPT',
  'IMPORT_REFUSED',
  'IMPORT_FAILED',
  'LINK_REFUSED',
  'LINK_INVALID',
  'LINK_NOT_FOUND',
  'LINK_PASSCODE_WRONG',
  'AT_REST_DECRYPT_FAILED',
  'AT_REST_ENCRYPT_FAILED',
  'AT_REST_INVALID_KEY',
  'AT_REST_UNSUPPORTED_SCHEMA',
  'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
  'AT_REST_NO_KEY',
  'AT_REST_CLOSED',
  'WORKER_MESSAGE_UNREADABLE',
  'WORKER_JOB_FAILED',
  'WORKER_UNAVAILABLE',
  'META_INVALID',
  'INVALID_DRAFT',
  'CLAIM_UNCONFIRMED',
  'WRAPPING_KEY_CHANGED',
  'STOPPED',
  'DEVICE_UNKNOWN',
  'BAD_HANDSHAKE',
  'FATAL',
  'DISMISSAL_NOT_AUDITED',
  'CONFLICT_WAIT',
  'NOT_QUARANTINED',
  'VERSION_NOT_KEPT',
  'VAULT_UNAVAILABLE',
  'VAULT_WRITE_FAILED',
  'VAULT_UNREADABLE',
  'SERVER_CODE_UNKNOWN',
  'GRANT_ENDED',
];

describe('HALE_ERRORS, the one error table', () => {
  it('has each code once: the protocol codes, then the client codes, none retyped', () => {
    expect(new Set(HALE_ERROR_CODE_LIST).size).toBe(HALE_ERROR_CODE_LIST.length);
    expect(CLIENT_ERROR_CODE_LIST.filter((code) => ERROR_CODE_LIST.includes(code as never))).toEqual([]);
    expect(Object.keys(HALE_ERRORS)).toEqual(HALE_ERROR_CODE_LIST);
  });

  it('is append-only: the client codes are the pinned list, new ones after it', () => {
    expect(CLIENT_ERROR_CODE_LIST.slice(0, PINNED.length)).toEqual(PINNED);
  });

  it('gives every code words for a person and an action; protocol codes keep the protocol retry and action', () => {
    const actions = new Set<string>([
      ...CLIENT_ERROR_ACTIONS,
      ...Object.values(ERROR_CODES).map((info) => info.action),
    ]);
    const poor = HALE_ERROR_CODE_LIST.filter((code) => {
      const { words, action } = HALE_ERRORS[code];
      // A sentence or two: a capital first, a full stop last, no code or template left in it.
      return !/^[A-Z].{8,200}[.]$/s.test(words) || /[A-Z]{2,}_|\{\{/.test(words) || !actions.has(action);
    });
    expect(poor).toEqual([]);
    for (const code of ERROR_CODE_LIST) {
      expect(HALE_ERRORS[code]).toMatchObject({
        retry: ERROR_CODES[code].retry,
        action: ERROR_CODES[code].action,
      });
    }
  });

  it('holds every code an area class throws and the platform vaults throw', () => {
    const areas = [
      ACCOUNT_ERROR_CODES,
      AUDIT_ERROR_CODES,
      PAIRING_ERROR_CODES,
      FILE_ERROR_CODES,
      QUEUED_BYTES_FAILURES,
      CARE_ERROR_CODES,
      RECORDS_IO_ERROR_CODES,
      AT_REST_ERROR_CODES,
      CRYPTO_OFFLOAD_ERROR_CODES,
      DEVICE_META_ERROR_CODES,
      DRAFT_ERROR_CODES,
      RECORD_ERROR_CODES,
      CONSENT_ERROR_CODES,
      SYNC_ERROR_CODES,
      ['VAULT_UNAVAILABLE', 'VAULT_WRITE_FAILED', 'VAULT_UNREADABLE'],
    ];
    expect(areas.flat().filter((code) => !isHaleErrorCode(code))).toEqual([]);
    expect(isHaleErrorCode('NOT_A_CODE')).toBe(false);
  });

  it('keeps a server code this build does not know as wireCode, under SERVER_CODE_UNKNOWN', () => {
    expect(syncErrorFromWire('RATE_LIMITED', 'slow down', true)).toMatchObject({ code: 'RATE_LIMITED' });
    const newer = syncErrorFromWire('A_NEWER_CODE', 'refused', false);
    expect({ code: newer.code, wireCode: newer.wireCode, retry: newer.retry }).toEqual({
      code: 'SERVER_CODE_UNKNOWN',
      wireCode: 'A_NEWER_CODE',
      retry: false,
    });
    expect(newer.message).toContain('A_NEWER_CODE');
  });
});
