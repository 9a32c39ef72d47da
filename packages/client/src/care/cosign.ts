/**
 * Co-signatures of notes over `NoteSignature` records: a clinician asks another to co-sign the note's
 * current version; the other signs exactly that version; a later amendment (a new current version) shows
 * as not co-signed until someone signs it again.
 *
 * Invariants: a request names the NoteVersion (`noteVersionId`) that is current when it is made; signing
 * it attests that version (`signedVersionNumber`, filled and checked by the records API from the version
 * held). A signature is final once signed (model and records API). `cosignStatusOf` reads which of the
 * note's versions each signature is for: only those naming the current version count for it.
 * Failure modes (CareError): a note, or a version of it, not held here (NOT_FOUND); signing a request made
 * to someone else, or one no longer `requested` (NOT_YOURS, WRONG_STATE).
 */
import type { RecordOf } from '@hale/model';
import type { DeviceSession } from '../session/session';
import type { StoredRecord } from '../records/records';
import { CareError } from './errors';
import { iso } from './time-zones';

type Signature = RecordOf<'NoteSignature'>;

/** Where a clinical note's co-signature stands: its current version and who signed which. */
export interface CosignStatus {
  readonly noteId: string;
  readonly currentVersion: number;
  /** Signatures of the current version, signed. */
  readonly signed: readonly Signature[];
  /** Requests for the current version, not answered yet. */
  readonly pending: readonly Signature[];
  /** Signatures and requests of earlier versions: they say nothing of the current text. */
  readonly outdated: readonly Signature[];
}

/** The co-signature state of `note` from the signatures and versions held here. */
export const cosignStatusOf = (
  note: RecordOf<'MedicalNote'>,
  versions: readonly RecordOf<'NoteVersion'>[],
  signatures: readonly Signature[],
): CosignStatus => {
  const current = versions.find((v) => v.noteId === note.id && v.versionNumber === note.currentVersionNumber);
  const mine = signatures.filter((s) => s.noteId === note.id);
  const forCurrent = (s: Signature): boolean =>
    current !== undefined &&
    s.noteVersionId === current.id &&
    (s.status !== 'signed' || s.signedVersionNumber === current.versionNumber);
  return {
    noteId: note.id,
    currentVersion: note.currentVersionNumber,
    signed: mine.filter((s) => s.status === 'signed' && forCurrent(s)),
    pending: mine.filter((s) => s.status === 'requested' && forCurrent(s)),
    outdated: mine.filter((s) => !forCurrent(s)),
  };
};

export const createCosign = (deps: {
  session: Pick<DeviceSession, 'account' | 'records'>;
  now: () => number;
}) => {
  const { records } = deps.session;
  const me = deps.session.account.accountId;
  const one = async <K extends 'MedicalNote' | 'NoteSignature'>(
    kind: K,
    id: string,
  ): Promise<StoredRecord<K>> => {
    const stored = await records.get<K>(id);
    if (stored === null || stored.kind !== kind) {
      throw new CareError('NOT_FOUND', `no ${kind} ${id} is held here`, { recordId: id });
    }
    return stored;
  };
  return {
    /** Asks `signerId` to co-sign the note's current version (as `signerRole`). */
    async request(noteId: string, signerId: string, signerRole = 'attending'): Promise<Signature> {
      const note = (await one('MedicalNote', noteId)).record;
      const versions = await records.query('NoteVersion', { patientId: note.patientId });
      const current = versions.find(
        (v) => v.record.noteId === noteId && v.record.versionNumber === note.currentVersionNumber,
      );
      if (current === undefined) {
        throw new CareError('NOT_FOUND', `the current version of note ${noteId} is not held here`, {
          recordId: noteId,
        });
      }
      return records.add(
        'NoteSignature',
        {
          noteId,
          noteVersionId: current.record.id,
          signerId,
          signerRole,
          status: 'requested',
          requestedAt: iso(deps.now()),
        },
        { patientId: note.patientId },
      );
    },

    /** The signer signs the version the request names (exactly that one). */
    async sign(signatureId: string, comment?: string): Promise<Signature> {
      const request = (await one('NoteSignature', signatureId)).record;
      if (request.signerId !== me) {
        throw new CareError('NOT_YOURS', 'this co-signature was asked of someone else', {
          recordId: signatureId,
        });
      }
      if (request.status !== 'requested') {
        throw new CareError('WRONG_STATE', `this co-signature is ${request.status} already`, {
          recordId: signatureId,
        });
      }
      return records.update('NoteSignature', signatureId, {
        status: 'signed',
        ...(comment === undefined ? {} : { comment }),
      });
    },

    async decline(signatureId: string, comment?: string): Promise<Signature> {
      const request = (await one('NoteSignature', signatureId)).record;
      if (request.signerId !== me) {
        throw new CareError('NOT_YOURS', 'this co-signature was asked of someone else', {
          recordId: signatureId,
        });
      }
      return records.update('NoteSignature', signatureId, {
        status: 'declined',
        ...(comment === undefined ? {} : { comment }),
      });
    },
  };
};
