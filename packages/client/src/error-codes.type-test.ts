// Type-level check that every HaleError class of the client throws only codes of the one table
// (core/error-codes.ts): `npm run typecheck` fails when a class's code type is not assignable to
// HaleErrorCode. (HaleError's abstract `code` is a HaleErrorCode too, so a new class is held to it.)
import type { HaleErrorCode } from './core/error-codes';
import type { HaleError } from './core/hale-error';
import type { AccountError } from './core/account-error';
import type { HaleClientError } from './api/errors';
import type { AtRestError } from './offload/at-rest-jobs';
import type { CryptoOffloadError } from './offload/worker-offload';
import type { DeviceMetaError } from './store/device-meta';
import type { RecordError } from './records/record-errors';
import type { SyncError } from './sync/connection';
import type { KeyringError } from './sync/keyring-types';
import type { WrappingKeyError } from './sync/device-directory-types';
import type { AuditError } from './audit/errors';
import type { PairingError } from './pairing/errors';
import type { ConsentError } from './consent/consent-types';
import type { FileError } from './files/file-errors';
import type { QueuedBytesError } from './files/upload-queue-store';
import type { RecordsIoError } from './io/io-error';
import type { CareError } from './care/errors';
import type { DraftError } from './hale/drafts';

type InTable<C extends HaleErrorCode> = C;

export type Checked = [
  InTable<HaleError['code']>,
  InTable<AccountError['code']>,
  InTable<HaleClientError['code']>,
  InTable<AtRestError['code']>,
  InTable<CryptoOffloadError['code']>,
  InTable<DeviceMetaError['code']>,
  InTable<RecordError['code']>,
  InTable<SyncError['code']>,
  InTable<KeyringError['code']>,
  InTable<WrappingKeyError['code']>,
  InTable<AuditError['code']>,
  InTable<PairingError['code']>,
  InTable<ConsentError['code']>,
  InTable<FileError['code']>,
  InTable<QueuedBytesError['code']>,
  InTable<RecordsIoError['code']>,
  InTable<CareError['code']>,
  InTable<DraftError['code']>,
];

// @ts-expect-error a code not in the table is no HaleErrorCode: the check above can fail
export type NotInTable = InTable<'NOT_A_CODE_OF_THE_TABLE'>;
