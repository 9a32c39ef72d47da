import { describe, expect, it } from 'vitest';
import type { GrantView, StoredRecord } from '@hale/client';
import { COSIGN_SCOPE, cosignAsks } from './cosign-asks';

const ME = 'patient';
const request = (
  id: string,
  signerId: string,
  by: string,
  status: 'requested' | 'signed' | 'declined' = 'requested',
  noteId = 'note-1',
): StoredRecord<'NoteSignature'> =>
  ({
    kind: 'NoteSignature',
    record: { id, patientId: ME, noteId, noteVersionId: 'v1', signerId, signerRole: 'supervisor', status },
    author: 'device',
    by,
    conflict: false,
    conflictData: null,
    rv: 1,
  }) as unknown as StoredRecord<'NoteSignature'>;
const grant = (granteeId: string, scope: readonly object[], state = 'active'): GrantView =>
  ({ grant: { granteeId, scope }, state }) as unknown as GrantView;

describe('co-signatures waiting for the patient', () => {
  it('asks once per clinician asked who cannot read notes and sign, naming who asked', () => {
    const asks = cosignAsks(
      [
        request('s1', 'lena', 'kai'),
        request('s2', 'lena', 'kai', 'requested', 'note-2'),
        request('s3', 'omar', 'kai', 'signed'),
      ],
      [grant('kai', [{ type: 'note', access: 'write' }])],
      ME,
    );
    expect(asks).toEqual([{ signerId: 'lena', askedBy: ['kai'], notes: 2 }]);
  });

  it('a grant in force with notes and signatures to write covers the ask; an ended or narrower one does not', () => {
    const signatures = [request('s1', 'lena', 'kai')];
    expect(cosignAsks(signatures, [grant('lena', COSIGN_SCOPE)], ME)).toEqual([]);
    expect(cosignAsks(signatures, [grant('lena', COSIGN_SCOPE, 'revoked')], ME)).toHaveLength(1);
    expect(
      cosignAsks(
        signatures,
        [
          grant('lena', [
            { type: 'note', access: 'read' },
            { type: 'note-signature', access: 'read' },
          ]),
        ],
        ME,
      ),
    ).toHaveLength(1);
  });
});
