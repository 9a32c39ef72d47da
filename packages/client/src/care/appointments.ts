/**
 * The appointment request flow over `Appointment` records in the patient's `appointment` stream (the
 * provider writes there under the patient's write grant): a patient requests (a reason and preferred
 * times) or books a published slot; the provider confirms, declines or proposes another time; the patient
 * answers a proposal; either cancels; the provider completes.
 *
 * | call | who | from → to |
 * |---|---|---|
 * | `request` / `book` | patient | new → `requested` (`book`: `fromSlot`, the slot's times) |
 * | `confirm` / `decline` / `propose` | provider | `requested` → `scheduled` / `declined` / `proposed` |
 * | `accept` / `refuse` | patient | `proposed` → `scheduled` / `declined` |
 * | `cancel` | either | `requested`, `proposed`, `scheduled` → `canceled` |
 * | `complete` | provider | `scheduled` → `completed` |
 *
 * Invariants: times are stored as UTC instants with the IANA zone of the place (`timeZone`); each move
 * sets `statusBy` (this account) and `statusAt` (now), which the model's transitions hold to the writer.
 * Failure modes (CareError, nothing written): a move that is not this account's (NOT_YOURS) or not from the
 * record's status (WRONG_STATE); a booking of time the provider already confirmed (SLOT_TAKEN) or of a time
 * not among its free slots (NOT_A_SLOT, checked by the caller against the availability read); a patient
 * without a write grant to the provider on `appointment` (NO_GRANT: the provider could never answer);
 * bad times or zone (INVALID_INPUT). The records API's own refusals (RecordError) pass through.
 */
import type { RecordOf, TimeWindow } from '@hale/model';
import { MAX_PREFERRED_TIMES } from '@hale/model';
import type { DeviceSession } from '../session/session';
import type { StoredRecord } from '../records/records';
import { confirmedBy, type StoredAppointment } from './booking';
import { CareError } from './errors';
import { iso, requireZone, toUtc } from './time-zones';

type Appointment = RecordOf<'Appointment'>;
type Status = Appointment['status'];
type Reason = NonNullable<Appointment['statusReason']>;

/** What a patient sends to request an appointment from a provider, without a slot. */
export interface AppointmentRequest {
  readonly providerId: string;
  readonly reason?: string;
  /** Most preferred first; the first is the appointment's time until the provider answers. */
  readonly preferredTimes: readonly TimeWindow[];
  /** The zone the times are meant in (the clinic's or the patient's own). */
  readonly timeZone: string;
  readonly location?: string;
}

/** What a patient sends to book one of a provider's offered slots (see `isOfferedSlot`). */
export interface SlotBooking {
  readonly providerId: string;
  readonly startAt: string;
  readonly endAt: string;
  readonly timeZone: string;
  readonly reason?: string;
  readonly location?: string;
}

export interface AppointmentsDeps {
  readonly session: Pick<DeviceSession, 'account' | 'records' | 'consent'>;
  readonly now: () => number;
  /** Appointments this provider device confirmed itself (booking.ts rule 1). */
  readonly confirmedHere: Set<string>;
}

const window = (w: TimeWindow, field: string): TimeWindow => {
  const [startAt, endAt] = [toUtc(w.startAt), toUtc(w.endAt)];
  if (Date.parse(endAt) <= Date.parse(startAt)) {
    throw new CareError('INVALID_INPUT', 'an appointment must end after it starts', { field });
  }
  return { startAt, endAt };
};

const overlaps = (a: TimeWindow, b: TimeWindow): boolean =>
  Date.parse(a.startAt) < Date.parse(b.endAt) && Date.parse(b.startAt) < Date.parse(a.endAt);

export const createAppointments = (deps: AppointmentsDeps) => {
  const { session } = deps;
  const me = session.account.accountId;

  const read = async (id: string): Promise<StoredRecord<'Appointment'>> => {
    const stored = await session.records.get<'Appointment'>(id);
    if (stored === null || stored.kind !== 'Appointment') {
      throw new CareError('NOT_FOUND', `no appointment ${id} is held here`, { recordId: id });
    }
    return stored;
  };

  /** Moves `id` from one of `from` to `to`, as `party`; `extra` are the fields the move changes. */
  const move = async (
    id: string,
    party: 'patient' | 'provider' | 'either',
    from: readonly Status[],
    to: Status,
    extra: Partial<Appointment> = {},
  ): Promise<Appointment> => {
    const { record } = await read(id);
    const isPatient = record.patientId === me;
    const isProvider = record.providerId === me;
    if (
      (party === 'patient' && !isPatient) ||
      (party === 'provider' && !isProvider) ||
      (!isPatient && !isProvider)
    ) {
      throw new CareError(
        'NOT_YOURS',
        `only the ${party === 'either' ? 'patient or the provider' : party} of appointment ${id} may make it ${to}`,
        { recordId: id },
      );
    }
    if (!from.includes(record.status)) {
      throw new CareError('WRONG_STATE', `appointment ${id} is ${record.status}: it cannot become ${to}`, {
        recordId: id,
      });
    }
    return session.records.update('Appointment', id, {
      ...extra,
      status: to,
      statusBy: me,
      statusAt: iso(deps.now()),
    });
  };

  /** The patient's write grant to `providerId` on appointments, active now (the provider answers with it). */
  const requireGrant = async (providerId: string): Promise<void> => {
    const grants = await session.consent.list();
    const ok = grants.some(
      (g) =>
        g.status === 'active' &&
        g.grant.granteeId === providerId &&
        g.grant.scope.some((s) => s.type === 'appointment' && s.access === 'write'),
    );
    if (!ok) {
      throw new CareError(
        'NO_GRANT',
        'share your appointments with this clinician (write access) first: without it the clinic can never answer',
        { field: 'providerId' },
      );
    }
  };

  const note = (text: string | undefined): Partial<Appointment> =>
    text === undefined ? {} : { statusNote: text };
  const because = (reason: Reason | undefined): Partial<Appointment> =>
    reason === undefined ? {} : { statusReason: reason };

  return {
    /** A patient asks for an appointment at one of `preferredTimes`. */
    async request(input: AppointmentRequest): Promise<Appointment> {
      requireZone(input.timeZone);
      if (input.preferredTimes.length === 0 || input.preferredTimes.length > MAX_PREFERRED_TIMES) {
        throw new CareError('INVALID_INPUT', `name 1 to ${MAX_PREFERRED_TIMES} preferred times`, {
          field: 'preferredTimes',
        });
      }
      const times = input.preferredTimes.map((w, i) => window(w, `preferredTimes[${i}]`));
      await requireGrant(input.providerId);
      const first = times[0]!;
      return session.records.add('Appointment', {
        providerId: input.providerId,
        startAt: first.startAt,
        endAt: first.endAt,
        status: 'requested',
        timeZone: input.timeZone,
        preferredTimes: times,
        statusBy: me,
        statusAt: iso(deps.now()),
        ...(input.reason === undefined ? {} : { reason: input.reason }),
        ...(input.location === undefined ? {} : { location: input.location }),
      });
    },

    /**
     * A patient books a published slot (the caller checked it against the availability it read). Refused
     * SLOT_TAKEN when this device already holds a confirmed appointment with the provider at that time.
     */
    async book(input: SlotBooking, held: readonly StoredAppointment[] = []): Promise<Appointment> {
      requireZone(input.timeZone);
      const slot = window(input, 'startAt');
      const taken = held.some(
        (a) =>
          a.record.providerId === input.providerId &&
          (a.record.status === 'scheduled' || a.record.status === 'requested') &&
          overlaps(a.record, slot),
      );
      if (taken) {
        throw new CareError('SLOT_TAKEN', 'you already hold an appointment with this clinician at that time');
      }
      await requireGrant(input.providerId);
      return session.records.add('Appointment', {
        providerId: input.providerId,
        startAt: slot.startAt,
        endAt: slot.endAt,
        status: 'requested',
        fromSlot: true,
        timeZone: input.timeZone,
        statusBy: me,
        statusAt: iso(deps.now()),
        ...(input.reason === undefined ? {} : { reason: input.reason }),
        ...(input.location === undefined ? {} : { location: input.location }),
      });
    },

    /**
     * The provider confirms a request: at its time, or at one of its preferred times (`at`). Refused
     * SLOT_TAKEN when that time overlaps an appointment the provider confirmed (any patient held here).
     */
    async confirm(
      id: string,
      options: { at?: TimeWindow; note?: string; held?: readonly StoredAppointment[] } = {},
    ): Promise<Appointment> {
      const { record } = await read(id);
      const at = options.at === undefined ? record : window(options.at, 'at');
      const clash = (options.held ?? []).find(
        (a) => a.record.id !== id && confirmedBy(a, me, deps.confirmedHere) && overlaps(a.record, at),
      );
      if (clash !== undefined) {
        throw new CareError(
          'SLOT_TAKEN',
          `another confirmed appointment (${clash.record.id}) holds that time`,
          {
            recordId: id,
          },
        );
      }
      const written = await move(id, 'provider', ['requested'], 'scheduled', {
        ...(options.at === undefined ? {} : { startAt: at.startAt, endAt: at.endAt }),
        ...note(options.note),
      });
      deps.confirmedHere.add(id);
      return written;
    },

    decline: (id: string, options: { reason?: Reason; note?: string } = {}) =>
      move(id, 'provider', ['requested'], 'declined', { ...because(options.reason), ...note(options.note) }),

    /** The provider offers another time (for a request, or to move a confirmed appointment). */
    propose: (id: string, at: TimeWindow, options: { note?: string } = {}) => {
      const w = window(at, 'at');
      return move(id, 'provider', ['requested', 'scheduled', 'proposed'], 'proposed', {
        startAt: w.startAt,
        endAt: w.endAt,
        ...note(options.note),
      });
    },

    accept: (id: string, options: { note?: string } = {}) =>
      move(id, 'patient', ['proposed'], 'scheduled', note(options.note)),

    refuse: (id: string, options: { note?: string } = {}) =>
      move(id, 'patient', ['proposed'], 'declined', {
        statusReason: 'patient-request',
        ...note(options.note),
      }),

    cancel: (id: string, options: { reason?: Reason; note?: string } = {}) =>
      move(id, 'either', ['requested', 'proposed', 'scheduled'], 'canceled', {
        ...because(options.reason),
        ...note(options.note),
      }),

    complete: (id: string) => move(id, 'provider', ['scheduled'], 'completed'),

    read,
  };
};

export type Appointments = ReturnType<typeof createAppointments>;
