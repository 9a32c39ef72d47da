/**
 * A note's co-signature state (`session.care.notes.status`), read again whenever the chart's signatures or
 * versions change; null while it is read or when it cannot be. `patientId`: whose chart (none: this
 * account's own).
 */
import { useEffect, useState } from 'react';
import type { CosignStatus, RecordOf } from '@hale/client';
import { useHaleSession, useRecords } from '@hale/react';

export function useCosignStatus(note: RecordOf<'MedicalNote'>, patientId?: string): CosignStatus | null {
  const session = useHaleSession();
  const query = patientId === undefined ? {} : { patientId };
  const signatures = useRecords('NoteSignature', query);
  const versions = useRecords('NoteVersion', query);
  const [status, setStatus] = useState<CosignStatus | null>(null);
  useEffect(() => {
    let live = true;
    session.care.notes.status(note.id).then(
      (s) => live && setStatus(s),
      () => live && setStatus(null),
    );
    return () => {
      live = false;
    };
  }, [session, note, signatures, versions]);
  return status;
}
