// A message between the patient and a clinician (FHIR Communication); its own screens at /care/messages.
import type { KindDescription } from '../kind-description';
import { exportMessage } from '../fhir-export-records';
import { MessageSchema } from '../record-schemas';

export const MESSAGE = {
  slug: 'messages',
  schema: MessageSchema,
  streamType: 'message',
  authorship: 'message',
  // Not imported: a message belongs to the conversation it was sent in.
  fhir: { resource: 'Communication', export: exportMessage, import: [] },
  clinicalDate: ['sentAt'],
  search: { body: 1, 'attachments.fileName': 1 },
  screen: null,
  example: (p) => ({
    ...p.base(),
    threadId: p.newId(),
    senderId: p.patientId,
    recipientId: p.providerId,
    body: 'My home readings are attached.',
    attachments: [p.file('readings.csv', 'text/csv', 512)],
    status: 'read',
    sentAt: p.created,
    deliveredAt: '2024-05-01T09:30:02.000Z',
    readAt: '2024-05-01T11:00:00.000Z',
  }),
} as const satisfies KindDescription<typeof MessageSchema>;
