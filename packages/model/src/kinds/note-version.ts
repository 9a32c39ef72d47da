// One version of a note's text (SOAP), original, amendment or addendum; edited through its note's form.
import type { KindDescription } from '../kind-description';
import { NoteVersionSchema } from '../record-schemas';

export const NOTE_VERSION = {
  slug: 'note-versions',
  schema: NoteVersionSchema,
  streamType: 'note',
  authorship: 'author',
  fhir: {
    resource: 'Composition',
    // Exported per note with its header (toFhirBundle: exportNote), not record by record.
    export: () => undefined,
    import: [],
  },
  clinicalDate: [],
  search: { subjective: 1, objective: 1, assessment: 1.5, plan: 1, changeSummary: 1, amendmentReason: 1 },
  screen: null,
  example: (p) => ({
    ...p.base(),
    noteId: p.newId(),
    versionNumber: 2,
    editorId: p.providerId,
    subjective: 'No headaches. Occasional dizziness on standing.',
    objective: 'BP 138/86, HR 72.',
    assessment: 'Hypertension, improving.',
    plan: 'Continue lisinopril; recheck in 3 months.',
    changeSummary: 'Corrected heart rate.',
    kind: 'amendment',
    amendmentReason: 'Heart rate transcribed wrongly.',
  }),
} as const satisfies KindDescription<typeof NoteVersionSchema>;
