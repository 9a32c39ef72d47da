/**
 * An appointment as an iCalendar file (RFC 5545, through the `ics` package) a person adds to a calendar.
 *
 * Invariants: DTSTART and DTEND are the stored UTC instants written in UTC (`…Z`), so every calendar shows
 * the same moment whatever its own zone; UID is the record id (a later export of the same appointment
 * updates the calendar's copy), SEQUENCE its revision; STATUS follows the appointment (confirmed,
 * tentative while asked or offered, cancelled once cancelled or declined). The title names no health
 * content (no reason) unless the caller passes one: a calendar is often shared or synced elsewhere.
 * Failure modes: an appointment whose times the library refuses → CareError INVALID_INPUT.
 */
import { createEvent, type DateArray, type EventStatus } from 'ics';
import type { RecordOf } from '@hale/model';
import { CareError } from './errors';

const utcArray = (instant: string): DateArray => {
  const d = new Date(instant);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()];
};

const STATUS: Record<RecordOf<'Appointment'>['status'], EventStatus> = {
  scheduled: 'CONFIRMED',
  completed: 'CONFIRMED',
  requested: 'TENTATIVE',
  proposed: 'TENTATIVE',
  canceled: 'CANCELLED',
  declined: 'CANCELLED',
};

/** Options of `appointmentIcs`. */
export interface IcsOptions {
  /** The event's title (default `Appointment`, or `Appointment with <providerName>`). */
  readonly title?: string;
  readonly providerName?: string;
  /** Free text for the description; nothing by default. */
  readonly description?: string;
  /** The record's revision (`rv`): a calendar takes the export with the highest SEQUENCE. */
  readonly sequence?: number;
}

/** An appointment as an iCalendar event (RFC 5545), for a calendar app. */
export const appointmentIcs = (appointment: RecordOf<'Appointment'>, options: IcsOptions = {}): string => {
  const title =
    options.title ??
    (options.providerName === undefined ? 'Appointment' : `Appointment with ${options.providerName}`);
  const { error, value } = createEvent({
    uid: `${appointment.id}@hale`,
    productId: 'hale/care',
    start: utcArray(appointment.startAt),
    startInputType: 'utc',
    startOutputType: 'utc',
    end: utcArray(appointment.endAt),
    endInputType: 'utc',
    endOutputType: 'utc',
    title,
    status: STATUS[appointment.status],
    sequence: options.sequence ?? 0,
    ...(appointment.location === undefined ? {} : { location: appointment.location }),
    ...(options.description === undefined ? {} : { description: options.description }),
  });
  if (error !== null || value === null) {
    throw new CareError(
      'INVALID_INPUT',
      `the appointment cannot be written as a calendar file: ${String(error)}`,
      {
        recordId: appointment.id,
      },
    );
  }
  return value;
};
