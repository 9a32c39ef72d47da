/** The stream types: one stream per (patient, stream type). Append-only list; never rename. */
export const STREAM_TYPES = [
  'profile',
  'emergency-contact',
  'document',
  'allergy',
  'immunization',
  'medication',
  'lab-result',
  'treatment-plan',
  'appointment',
  'message',
  'encounter',
  'note',
  'note-signature',
  'audit',
  'condition',
  'procedure',
  'family-history',
  'comment',
] as const;

export type StreamType = (typeof STREAM_TYPES)[number];

/** Stream types whose records must carry a verifiable author signature whoever writes them. */
export const CLINICAL_STREAM_TYPES: readonly StreamType[] = [
  'lab-result',
  'treatment-plan',
  'encounter',
  'note',
  'note-signature',
];

export const isStreamType = (value: unknown): value is StreamType =>
  typeof value === 'string' && (STREAM_TYPES as readonly string[]).includes(value);
