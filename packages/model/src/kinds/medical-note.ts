// A clinical note's header (FHIR Composition); its text is in NoteVersions, which the note's form edits too.
import type { KindDescription } from '../kind-description';
import { MedicalNoteSchema, NOTE_TYPES } from '../record-schemas';

/** The SOAP fields of a note, kept in its NoteVersion rather than the MedicalNote. */
export const NOTE_VERSION_FIELDS = ['subjective', 'objective', 'assessment', 'plan'] as const;

export const MEDICAL_NOTE = {
  slug: 'notes',
  schema: MedicalNoteSchema,
  streamType: 'note',
  authorship: 'author',
  fhir: {
    resource: 'Composition',
    // Exported per note with its versions (toFhirBundle: exportNote), not record by record.
    export: () => undefined,
    // Not imported: notes are written and signed in Hale by their authors.
    import: [],
  },
  clinicalDate: [],
  search: { title: 3, noteType: 1 },
  screen: {
    section: 'care',
    order: 40,
    icon: 'notes',
    title: 'title',
    summary: ['noteType', 'status'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'title', type: 'text', required: true },
      {
        name: 'noteType',
        type: 'select',
        options: NOTE_TYPES,
        enumName: 'noteType',
        required: true,
        initial: 'progress',
      },
      ...NOTE_VERSION_FIELDS.map((name) => ({ name, type: 'textarea' as const })),
    ],
  },
  example: (p) => ({
    ...p.base(),
    encounterId: p.newId(),
    authorId: p.providerId,
    title: 'Progress note: hypertension follow-up',
    noteType: 'progress',
    currentVersionNumber: 2,
    status: 'amended',
    requiresCosign: true,
  }),
} as const satisfies KindDescription<typeof MedicalNoteSchema>;
