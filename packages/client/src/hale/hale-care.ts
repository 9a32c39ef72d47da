/**
 * `session.care`: messages, appointments and availability, notifications, treatment plans, co-signatures
 * and a clinician's kept entries, as an app's screens use them (the flows are in `../care/`).
 *
 * | area | reads (Observed) | does |
 * |---|---|---|
 * | `messages` | `inbox` (threads, latest first, unread counts), `unread`, `thread(…)` | send (with files), markRead, attachment |
 * | `appointments` | `list` (by start, with who must answer) | request, book, confirm, decline, propose, accept, refuse, cancel, complete, ics, slots, times |
 * | `availability` | — | publish (provider), read (anyone signed in, checked) |
 * | `notifications` | `recent`, `$` (live, no health content) | — |
 * | `plans` | `list` (with acknowledgement state) | diff, acknowledge |
 * | `notes` | `cosignQueue` (requests to this account) | requestCosign, cosign, declineCosign, status |
 * | `ownEntries` | — | patients, export (signed FHIR of this clinician's own entries) |
 * | `patientNames` | `names` (kept after access ends) | remember (patient-names.ts) |
 *
 * Background duties while the session is open (they end with it): this device marks messages to its
 * account delivered as they arrive; a provider device keeps copies of its own entries (own-entries.ts) and,
 * connected and in sync, decides bookings of its published slots by the rule of booking.ts, then publishes
 * its availability again with the new busy times (when it published one from this device).
 * Failure modes: every call refuses with a HaleError (CareError, RecordError, FileError, AccountError
 * LOCKED once locked or closed); a background duty that fails is retried at the next change, never thrown.
 */
import { BehaviorSubject, combineLatest, debounceTime, map, Observable, scan, type Subscription } from 'rxjs';
import { chooseEd25519, type Ed25519 } from '@hale/crypto';
import type { RecordOf, TimeWindow } from '@hale/model';
import { Availability as AvailabilitySchema, type Availability, type BusyInterval } from '@hale/protocol';
import { Type } from '@sinclair/typebox';
import type { DeviceSession } from '../session/session';
import { createPatientNames, type PatientNames } from '../care/patient-names';
import type { StoredRecord } from '../records/records';
import type { HttpApi } from '../api/http-api';
import { createSessionManager, type SessionManager } from '../api/session-manager';
import { isHaleClientError } from '../api/errors';
import { createDeviceMeta } from '../store/device-meta';
import { deviceMetaStore } from '../store/meta-store';
import type { SignedFhirBundle } from '../io/signed-fhir-export';
import {
  availabilityOf,
  signAvailability,
  slotsOf,
  verifyAvailability,
  type AvailabilityInput,
  type Slot,
} from '../care/availability';
import { createAppointments, type AppointmentRequest, type SlotBooking } from '../care/appointments';
import { confirmedBy, decideBookings, type StoredAppointment } from '../care/booking';
import { CareError } from '../care/errors';
import { appointmentIcs, type IcsOptions } from '../care/ics';
import { createMessages, type SendInput } from '../care/messages';
import { careNotifications, type CareNotification } from '../care/notifications';
import {
  acknowledgementOf,
  createPlans,
  planDiff,
  type PlanAcknowledgement,
  type PlanDiff,
} from '../care/plans';
import { cosignStatusOf, createCosign, type CosignStatus } from '../care/cosign';
import { createOwnEntries } from '../care/own-entries';
import { inboxOf, threadMessages, type StoredMessage, type Thread } from '../care/threads';
import { inZone, iso, type ZonedTime } from '../care/time-zones';
import { observedFrom, type Observed } from '../core/observed';

/** An appointment as the care area lists it: the record, its version and what this account may do with it. */
export interface AppointmentView {
  readonly record: RecordOf<'Appointment'>;
  readonly rv: number;
  /** Who must answer next: the provider (a request), the patient (a time offered), or nobody. */
  readonly awaiting: 'patient' | 'provider' | null;
  /** Declined or cancelled because another booking of the time was confirmed first. */
  readonly slotTaken: boolean;
  /** Confirmed, and the confirmation is the provider's own (a signed version of its account). */
  readonly confirmed: boolean;
}

/** A treatment plan as the care area lists it, with the patient's acknowledgement. */
export interface PlanView {
  readonly record: RecordOf<'TreatmentPlan'>;
  readonly acknowledgement: PlanAcknowledgement | null;
  /** The patient has a version to acknowledge (the plan is not a draft and the current version is not acknowledged). */
  readonly toAcknowledge: boolean;
}

/**
 * The care area of a session (`session.care`): messages, appointments, availability, notifications, plans and
 * notes.
 * - While the session is open it sends delivered receipts, keeps a provider's own entries and, with
 *   `autoConfirm`, confirms bookings once the device is online with nothing pending.
 *
 * @throws `CareError` (`CARE_ERROR_CODES`).
 */
export interface HaleCare {
  readonly messages: {
    readonly inbox: Observed<readonly Thread[]>;
    /** Messages to this account not read yet, over every thread. */
    readonly unread: Observed<number>;
    /** One thread's messages, oldest first. */
    thread(patientId: string, threadId: string): Observed<readonly StoredMessage[]>;
    /** Sends a message, with any attachments. */
    send(input: SendInput): Promise<RecordOf<'Message'>>;
    /** Marks a thread's messages to this account as read; answers how many were marked. */
    markRead(patientId: string, threadId: string): Promise<number>;
    /** An attachment's bytes, decrypted. */
    attachment(
      message: RecordOf<'Message'>,
      file: NonNullable<RecordOf<'Message'>['attachments']>[number],
    ): Promise<Uint8Array>;
  };
  readonly appointments: {
    readonly list: Observed<readonly AppointmentView[]>;
    /** A patient requests an appointment from a provider. */
    request(input: AppointmentRequest): Promise<RecordOf<'Appointment'>>;
    /** Books a free slot (checked against the provider's availability, read now). */
    book(slot: Slot, options?: { reason?: string }): Promise<RecordOf<'Appointment'>>;
    /** The provider confirms a requested appointment, at its time or at `at`. */
    confirm(id: string, options?: { at?: TimeWindow; note?: string }): Promise<RecordOf<'Appointment'>>;
    /** The provider declines a requested appointment. */
    decline(
      id: string,
      options?: { reason?: RecordOf<'Appointment'>['statusReason']; note?: string },
    ): Promise<RecordOf<'Appointment'>>;
    /** Proposes another time for an appointment. */
    propose(id: string, at: TimeWindow, options?: { note?: string }): Promise<RecordOf<'Appointment'>>;
    /** Accepts a proposed time. */
    accept(id: string, options?: { note?: string }): Promise<RecordOf<'Appointment'>>;
    /** Refuses a proposed time. */
    refuse(id: string, options?: { note?: string }): Promise<RecordOf<'Appointment'>>;
    /** Cancels an appointment. */
    cancel(id: string, options?: { note?: string }): Promise<RecordOf<'Appointment'>>;
    /** The provider marks an appointment as held. */
    complete(id: string): Promise<RecordOf<'Appointment'>>;
    /** The appointment as an `.ics` calendar file (UTC times; no health content unless given). */
    ics(id: string, options?: IcsOptions): Promise<string>;
    /** The provider's free slots (its signed availability, read and checked now). */
    slots(providerId: string, range?: { notBefore?: string; until?: string }): Promise<readonly Slot[]>;
    /** An appointment's times in the viewer's zone (default: this device's) and in the place's zone. */
    times(
      appointment: RecordOf<'Appointment'>,
      viewerZone?: string,
    ): { viewer: { start: ZonedTime; end: ZonedTime }; place: { start: ZonedTime; end: ZonedTime } | null };
  };
  readonly availability: {
    /** A provider publishes when it may be booked (busy: its confirmed bookings and `blocked`). */
    publish(input: AvailabilityInput): Promise<Availability>;
    /** A provider's signed availability, read and checked now. */
    read(providerId: string): Promise<Availability>;
  };
  readonly notifications: {
    /** The latest notifications (at most 50, newest first) since the session opened. */
    readonly recent: Observed<readonly CareNotification[]>;
    readonly $: Observable<CareNotification>;
  };
  readonly plans: {
    readonly list: Observed<readonly PlanView[]>;
    /** What changed in a plan between two versions (default: the previous and the current one). */
    diff(plan: RecordOf<'TreatmentPlan'>, from?: number, to?: number): PlanDiff;
    /** The patient acknowledges a plan's current version. */
    acknowledge(planId: string): Promise<RecordOf<'TreatmentPlan'>>;
  };
  readonly notes: {
    /** Co-signatures asked of this account and not answered yet. */
    readonly cosignQueue: Observed<readonly StoredRecord<'NoteSignature'>[]>;
    /** Asks another clinician to co-sign a note. */
    requestCosign(noteId: string, signerId: string, signerRole?: string): Promise<RecordOf<'NoteSignature'>>;
    /** Co-signs a note this account was asked to sign. */
    cosign(signatureId: string, comment?: string): Promise<RecordOf<'NoteSignature'>>;
    /** Declines to co-sign a note. */
    declineCosign(signatureId: string, comment?: string): Promise<RecordOf<'NoteSignature'>>;
    /** Where a note's co-signatures stand. */
    status(noteId: string): Promise<CosignStatus>;
  };
  readonly ownEntries: {
    /** The patients whose charts hold entries of this provider. */
    patients(): Promise<string[]>;
    /** This provider's own entries in a patient's chart, as a signed FHIR Bundle. */
    export(patientId: string): Promise<SignedFhirBundle>;
  };
  /** The names this account saw its patients under, kept on this device after access ends (sealed). */
  readonly patientNames: PatientNames;
}

/**
 * What `createHaleCare` is built from: the device session, the HTTP API, Ed25519, a clock and the booking
 * options.
 */
export interface HaleCareDeps {
  readonly session: DeviceSession;
  /** The HTTP API (availability); without it `availability` and `slots` refuse. */
  readonly api?: HttpApi;
  readonly ed?: Ed25519;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
  /** A provider device decides bookings of its slots (booking.ts); true by default. */
  readonly autoConfirm?: boolean;
  /** Quiet time before the booking decider acts on a change (ms; 250 by default). */
  readonly decideAfterMs?: number;
}

const AvailabilityKept = Type.Object({ input: Type.Unknown(), version: Type.Integer({ minimum: 1 }) });

const deviceZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The care area over a device session (what `session.care` is); its pure parts are exported on their own. */
export function createHaleCare(deps: HaleCareDeps): HaleCare {
  const { session } = deps;
  const now = deps.now ?? Date.now;
  const me = session.account.accountId;
  const provider = session.account.role === 'provider';
  const edOf = async (): Promise<Ed25519> => deps.ed ?? (await chooseEd25519());
  const confirmedHere = new Set<string>();
  const appointments = createAppointments({ session, now, confirmedHere });
  const messages = createMessages({ session, now });
  const plans = createPlans({ session, now });
  const cosign = createCosign({ session, now });
  const own = createOwnEntries({ session, ed: edOf, now });
  const patientNames = createPatientNames({ session, now });
  const meta = createDeviceMeta(deviceMetaStore(session.db));

  const across = <
    K extends 'Message' | 'Appointment' | 'TreatmentPlan' | 'NoteSignature' | 'MedicalNote' | 'NoteVersion',
  >(
    kind: K,
  ): Observable<StoredRecord<K>[]> => session.records.observeAcross(kind);

  let tokens: SessionManager | null = null;
  const withToken = async <T>(call: (api: HttpApi, token: string) => Promise<T>): Promise<T> => {
    const api = deps.api;
    if (api === undefined)
      throw new CareError('NO_AVAILABILITY', 'this session reaches no directory (no HTTP API)');
    tokens ??= createSessionManager({ api, device: session.account.device, ed: await edOf(), now });
    return tokens.withToken((token) => call(api, token));
  };

  /**
   * The provider's availability, read and checked now; when the server cannot be reached (NETWORK,
   * TIMEOUT), the last one this device checked (kept in device meta), so a patient books offline.
   */
  const readAvailability = async (providerId: string): Promise<Availability> => {
    const key = `care-availability-of/${providerId}`;
    try {
      const served = await withToken((api, token) => api.getAvailability(providerId, token));
      const checked = await verifyAvailability(providerId, served, await edOf());
      await meta.set(key, checked).catch(() => undefined);
      return checked;
    } catch (e) {
      if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
        throw new CareError('NO_AVAILABILITY', 'this clinician has published no availability');
      }
      if (isHaleClientError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT')) {
        const kept = await meta.get(key, AvailabilitySchema).catch(() => null);
        if (kept !== null && kept.accountId === providerId) return kept;
      }
      throw e;
    }
  };

  // ---- live views ----
  const messages$ = across('Message');
  const appointments$ = across('Appointment');
  const plans$ = across('TreatmentPlan');
  const signatures$ = across('NoteSignature');

  const viewOf = (a: StoredAppointment): AppointmentView => {
    const r = a.record;
    return {
      record: r,
      rv: a.rv,
      awaiting: r.status === 'requested' ? 'provider' : r.status === 'proposed' ? 'patient' : null,
      slotTaken: (r.status === 'declined' || r.status === 'canceled') && r.statusReason === 'slot-taken',
      confirmed: confirmedBy(a, r.providerId, confirmedHere),
    };
  };
  const byStart = (a: AppointmentView, b: AppointmentView): number =>
    Date.parse(a.record.startAt) - Date.parse(b.record.startAt) || (a.record.id < b.record.id ? -1 : 1);

  // ---- background duties ----
  const duties: Subscription[] = [];
  const failed = new Set<string>();
  const start = (): void => {
    // Delivery receipts for messages reaching this account.
    duties.push(
      messages$.subscribe((all) => {
        const owed = all.filter(
          (m) =>
            m.record.recipientId === me &&
            m.record.status === 'sent' &&
            !failed.has(`${m.record.id}:${m.rv}`),
        );
        if (owed.length === 0) return;
        void messages.deliver(owed).then((n) => {
          if (n < owed.length) for (const m of owed) failed.add(`${m.record.id}:${m.rv}`);
        });
      }),
    );
    void patientNames.load().catch(() => undefined);
    if (!provider) return;
    own.start();
    duties.push({ unsubscribe: () => own.stop() } as Subscription);
    if (deps.autoConfirm === false) return;
    const inSync$ = session.sync.state$.pipe(map((s) => s.status === 'online' && s.pendingWrites === 0));
    let deciding = false;
    duties.push(
      combineLatest([appointments$, inSync$])
        .pipe(debounceTime(deps.decideAfterMs ?? 250))
        .subscribe(([all, inSync]) => {
          if (!inSync || deciding) return;
          deciding = true;
          void decide(all).finally(() => {
            deciding = false;
          });
        }),
    );
  };

  const decide = async (all: readonly StoredAppointment[]): Promise<void> => {
    const { confirm, decline, cancel } = decideBookings(all, me, confirmedHere);
    let changed = false;
    const attempt = async (id: string, act: () => Promise<unknown>): Promise<void> => {
      const held = all.find((a) => a.record.id === id);
      const key = `${id}:${held?.rv ?? 0}`;
      if (failed.has(key)) return;
      try {
        await act();
        changed = true;
      } catch {
        failed.add(key);
      }
    };
    for (const id of cancel) await attempt(id, () => appointments.cancel(id, { reason: 'slot-taken' }));
    for (const id of confirm) await attempt(id, () => appointments.confirm(id, { held: all }));
    for (const id of decline) await attempt(id, () => appointments.decline(id, { reason: 'slot-taken' }));
    if (changed) await republish().catch(() => undefined);
  };

  /** Busy times: the provider's confirmations held here and what it blocked, within the offered dates. */
  const busyOf = async (input: AvailabilityInput): Promise<BusyInterval[]> => {
    const held = await session.records.queryAcross('Appointment');
    const confirmed = held
      .filter((a) => confirmedBy(a, me, confirmedHere))
      .map((a) => ({ startAt: a.record.startAt, endAt: a.record.endAt }));
    return [...confirmed, ...(input.blocked ?? [])].slice(0, 1000);
  };

  const publish = async (input: AvailabilityInput, version: number): Promise<Availability> => {
    const doc = availabilityOf(me, input, version, iso(now()), await busyOf(input));
    const signed = await signAvailability(doc, session.account.keys.identity.secretKey, await edOf());
    try {
      await withToken((api, token) => api.putAvailability(signed, token));
    } catch (e) {
      // Another device of this provider published a higher version meanwhile: go above it, once.
      const kept =
        isHaleClientError(e) && e.code === 'AVAILABILITY_STALE' ? Number((e.details ?? {})['version']) : NaN;
      if (!Number.isSafeInteger(kept) || version > kept) throw e;
      return publish(input, kept + 1);
    }
    await meta.set('care-availability', { input, version: doc.version });
    return doc;
  };

  const republish = async (): Promise<void> => {
    const kept = await meta.get('care-availability', AvailabilityKept);
    if (kept === null) return;
    await publish(kept.input as AvailabilityInput, Math.max(kept.version + 1, now()));
  };

  try {
    start();
  } catch {
    // A session locked or closed before its views opened: nothing runs.
  }
  const closed = new Observable<never>((subscriber) => {
    const s = messages$.subscribe({
      complete: () => subscriber.complete(),
      error: () => subscriber.complete(),
    });
    return () => s.unsubscribe();
  });
  duties.push(closed.subscribe({ complete: () => duties.forEach((d) => d.unsubscribe()) }));

  const notifications$ = careNotifications(
    session.records.observeChanges(['Message', 'Appointment', 'TreatmentPlan', 'NoteSignature'] as const),
    me,
    now,
  );
  const recent = new BehaviorSubject<readonly CareNotification[]>([]);
  duties.push(
    notifications$
      .pipe(scan((list: readonly CareNotification[], n) => [n, ...list].slice(0, 50), []))
      .subscribe((list) => recent.next(list)),
  );

  const held = async (): Promise<StoredAppointment[]> => session.records.queryAcross('Appointment');

  return {
    messages: {
      inbox: observedFrom(messages$.pipe(map((all) => inboxOf(all, me))), []),
      unread: observedFrom(
        messages$.pipe(
          map((all) => all.filter((m) => m.record.recipientId === me && m.record.status !== 'read').length),
        ),
        0,
      ),
      thread: (patientId, threadId) =>
        observedFrom(messages$.pipe(map((all) => threadMessages(all, patientId, threadId))), []),
      send: (input) => messages.send(input),
      markRead: async (patientId, threadId) =>
        messages.markRead(await session.records.queryAcross('Message'), patientId, threadId),
      attachment: (message, file) => messages.attachment(message, file),
    },
    appointments: {
      // A clinician's schedule: its own appointments (a patient's other appointments may be held too).
      list: observedFrom(
        appointments$.pipe(
          map((all) =>
            all
              .filter((a) => !provider || a.record.providerId === me)
              .map(viewOf)
              .sort(byStart),
          ),
        ),
        [],
      ),
      request: (input) => appointments.request(input),
      book: async (slot, options = {}) => {
        const availability = await readAvailability(slot.providerId);
        const offered = slotsOf(availability, {
          notBefore: slot.startAt,
          until: iso(Date.parse(slot.startAt) + 1),
        });
        if (!offered.some((s) => s.startAt === slot.startAt && s.endAt === slot.endAt)) {
          throw new CareError('NOT_A_SLOT', 'that time is not among the free slots this clinician published');
        }
        const booking: SlotBooking = {
          providerId: slot.providerId,
          startAt: slot.startAt,
          endAt: slot.endAt,
          timeZone: slot.timeZone,
          ...(slot.location === undefined ? {} : { location: slot.location }),
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        };
        return appointments.book(booking, await held());
      },
      confirm: async (id, options = {}) => appointments.confirm(id, { ...options, held: await held() }),
      decline: (id, options = {}) =>
        appointments.decline(id, {
          ...(options.reason === undefined ? {} : { reason: options.reason }),
          ...(options.note === undefined ? {} : { note: options.note }),
        }),
      propose: (id, at, options) => appointments.propose(id, at, options),
      accept: (id, options) => appointments.accept(id, options),
      refuse: (id, options) => appointments.refuse(id, options),
      cancel: (id, options) => appointments.cancel(id, options),
      complete: (id) => appointments.complete(id),
      ics: async (id, options) => {
        const stored = await appointments.read(id);
        return appointmentIcs(stored.record, { sequence: stored.rv, ...options });
      },
      slots: async (providerId, range = {}) =>
        slotsOf(await readAvailability(providerId), {
          notBefore: range.notBefore ?? iso(now()),
          ...(range.until === undefined ? {} : { until: range.until }),
        }),
      times: (appointment, viewerZone = deviceZone()) => ({
        viewer: {
          start: inZone(appointment.startAt, viewerZone),
          end: inZone(appointment.endAt, viewerZone),
        },
        place:
          appointment.timeZone === undefined
            ? null
            : {
                start: inZone(appointment.startAt, appointment.timeZone),
                end: inZone(appointment.endAt, appointment.timeZone),
              },
      }),
    },
    availability: {
      publish: async (input) => {
        if (!provider) throw new CareError('NOT_A_PROVIDER', 'only a clinician publishes availability');
        const kept = await meta.get('care-availability', AvailabilityKept);
        return publish(input, Math.max((kept?.version ?? 0) + 1, now()));
      },
      read: readAvailability,
    },
    notifications: {
      recent: observedFrom(recent, []),
      $: notifications$,
    },
    plans: {
      list: observedFrom(
        plans$.pipe(
          map((all) =>
            all.map((p) => {
              const acknowledgement = acknowledgementOf(p.record);
              return {
                record: p.record,
                acknowledgement,
                toAcknowledge: p.record.status !== 'draft' && acknowledgement?.current !== true,
              };
            }),
          ),
        ),
        [],
      ),
      diff: (plan, from, to) => planDiff(plan, from, to),
      acknowledge: (planId) => plans.acknowledge(planId),
    },
    notes: {
      cosignQueue: observedFrom(
        signatures$.pipe(
          map((all) => all.filter((s) => s.record.signerId === me && s.record.status === 'requested')),
        ),
        [],
      ),
      requestCosign: (noteId, signerId, role) => cosign.request(noteId, signerId, role),
      cosign: (signatureId, comment) => cosign.sign(signatureId, comment),
      declineCosign: (signatureId, comment) => cosign.decline(signatureId, comment),
      status: async (noteId) => {
        const note = await session.records.get<'MedicalNote'>(noteId);
        if (note === null || note.kind !== 'MedicalNote') {
          throw new CareError('NOT_FOUND', `no note ${noteId} is held here`, { recordId: noteId });
        }
        const patientId = note.record.patientId;
        const [versions, signatures] = await Promise.all([
          session.records.query('NoteVersion', { patientId }),
          session.records.query('NoteSignature', { patientId }),
        ]);
        return cosignStatusOf(
          note.record,
          versions.map((v) => v.record),
          signatures.map((s) => s.record),
        );
      },
    },
    ownEntries: {
      patients: () => own.patients(),
      export: (patientId) => own.export(patientId),
    },
    patientNames: { names: patientNames.names, remember: (id, name) => patientNames.remember(id, name) },
  };
}

// Re-exported for the public surface's types.
export type {
  Thread,
  StoredMessage,
  SendInput,
  Slot,
  AvailabilityInput,
  AppointmentRequest,
  CareNotification,
  PlanDiff,
  CosignStatus,
};
