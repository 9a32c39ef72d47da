// A visit booked, asked for or offered (FHIR Appointment); its own screens at /care/appointments.
import type { KindDescription } from '../kind-description';
import { exportAppointment } from '../fhir-export-records';
import { APPOINTMENT_STATUSES, AppointmentSchema } from '../record-schemas';

export const APPOINTMENT = {
  slug: 'appointments',
  schema: AppointmentSchema,
  streamType: 'appointment',
  authorship: 'appointment',
  // Not imported: appointments are booked in Hale with a Hale provider.
  fhir: { resource: 'Appointment', export: exportAppointment, import: [] },
  clinicalDate: ['startAt'],
  search: { reason: 1.5, location: 1, status: 0.5 },
  screen: {
    section: 'care',
    order: 20,
    icon: 'calendar',
    path: '/care/appointments',
    title: 'reason',
    untitledIsKind: true,
    summary: ['startAt', 'location', 'status'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'providerId', type: 'account', required: true },
      { name: 'startAt', type: 'instant', required: true },
      { name: 'endAt', type: 'instant', required: true },
      { name: 'reason', type: 'text' },
      { name: 'location', type: 'text' },
      {
        name: 'status',
        type: 'select',
        options: APPOINTMENT_STATUSES,
        enumName: 'appointmentStatus',
        required: true,
        initial: 'scheduled',
      },
    ],
  },
  example: (p) => ({
    ...p.base(),
    providerId: p.providerId,
    startAt: '2024-06-03T15:00:00+02:00',
    endAt: '2024-06-03T15:30:00+02:00',
    location: 'Riverside Family Practice, room 4',
    status: 'scheduled',
    reason: 'Blood pressure review',
    timeZone: 'Europe/Berlin',
    fromSlot: false,
    preferredTimes: [{ startAt: '2024-06-03T13:00:00Z', endAt: '2024-06-03T15:00:00Z' }],
    statusBy: p.providerId,
    statusAt: '2024-05-20T08:00:00Z',
    statusReason: 'patient-request',
    statusNote: 'Confirmed the time you asked for.',
  }),
} as const satisfies KindDescription<typeof AppointmentSchema>;
