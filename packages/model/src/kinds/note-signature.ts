// A signature asked for or given on one version of a note (FHIR Provenance once signed, Task before).
import type { KindDescription } from '../kind-description';
import { exportNoteSignature } from '../fhir-export-notes';
import { NoteSignatureSchema } from '../record-schemas';

export const NOTE_SIGNATURE = {
  slug: 'note-signatures',
  schema: NoteSignatureSchema,
  streamType: 'note-signature',
  authorship: 'signature',
  fhir: {
    resource: 'Provenance',
    alsoExports: ['Task'],
    export: (x, r, signature, context) =>
      exportNoteSignature(
        x,
        r,
        signature,
        (noteId, version, noteVersionId) => context.noteTarget(noteId, version, noteVersionId),
        (noteVersionId) => context.versionNumberOf(noteVersionId),
      ),
    // Not imported: a request to sign a note is made in Hale.
    import: [],
  },
  clinicalDate: ['requestedAt'],
  search: { signerRole: 1, comment: 1 },
  screen: null,
  example: (p) => ({
    ...p.base(),
    noteId: p.newId(),
    noteVersionId: p.newId(),
    signedVersionNumber: 2,
    signerId: p.providerId,
    signerRole: 'attending',
    requestedBy: p.providerId,
    status: 'signed',
    requestedAt: p.created,
    signedAt: p.updated,
    comment: 'Reviewed.',
  }),
} as const satisfies KindDescription<typeof NoteSignatureSchema>;
