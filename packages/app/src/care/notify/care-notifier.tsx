/**
 * Notifications while the app runs (mounted once in the open app's frame): what others did — a message,
 * an appointment moved, a plan to acknowledge or acknowledged, a co-signature asked, a patient's sharing
 * changed (sharing-changes.ts) — and reminders of
 * confirmed appointments (a day, then an hour before) and of scheduled doses not yet marked (at their time).
 *
 * | where | when |
 * |---|---|
 * | in the app (a toast) | always |
 * | the system (browser `Notification`) | permission granted and the app not in view |
 * | the system (desktop shell: its preload's `notify`, desktop.ts) | the app not in view |
 * | reminders on the desktop shell: its main process (`setReminders`: start and dose times, fixed words) | a day and an hour before; a dose at its time; also while the app is locked |
 *
 * Invariants: one toast for events, its words the newest event's (ui/notice.ts); the words are fixed per type (care.notify.*) and name no health content — no message text,
 * name, reason, plan or time — so they may show on a locked screen; each notification once (by its id).
 * A closed web app gets nothing: push needs a push service these machines cannot reach.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { tellEvent } from '../../ui/notice';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import type { CareNotification, HaleSession } from '@hale/client';
import { useGrantsReceived, useObserved, useHaleSession, useRecords } from '@hale/react';
import { dueNow, reminderTimes } from '../../records/doses';
import { threadPath } from '../messages/paths';
import { desktopNotify, desktopReminders } from './desktop';
import { MAX_DESKTOP_STARTS, reminderStarts, remindersDue } from './reminders';
import { sharingChanged } from './sharing-changes';

/** How far ahead the desktop shell gets dose times; how late an open app still reminds of a dose. */
const DOSE_HORIZON_MS = 48 * 3_600_000;
const DOSE_GRACE_MS = 30 * 60_000;

/** Where a notification leads once the app is open. */
export const targetPath = async (session: HaleSession, n: CareNotification): Promise<string> => {
  switch (n.type) {
    case 'message': {
      const page = await session.records.query('Message', {
        patientId: n.target.patientId,
        ids: [n.target.recordId],
      });
      const m = page.items[0]?.record;
      return m === undefined ? '/care/messages' : threadPath(m.patientId, m.threadId);
    }
    case 'appointment':
      return `/care/appointments?focus=${encodeURIComponent(n.target.recordId)}`;
    case 'plan-to-acknowledge':
    case 'plan-acknowledged':
      return `/care/plans/${encodeURIComponent(n.target.recordId)}`;
    default:
      return '/';
  }
};

const inView = (): boolean => document.visibilityState === 'visible' && document.hasFocus();

export function CareNotifier(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const appointments = useObserved(session.care.appointments.list);
  const medications = useRecords('Medication').items.map((r) => r.record);
  const doses = useRecords('MedicationDose').items.map((r) => r.record);
  // Read by the minute's check (the lists change identity on every render).
  const medicines = useRef({ medications, doses });
  medicines.current = { medications, doses };
  const reminded = useRef(new Set<string>());
  const shown = useRef(new Set<string>());

  /** `system: false`: the toast only (the desktop shell's main process shows its own reminders). */
  const show = (id: string, title: string, body: string, open: () => void, system = true): void => {
    if (shown.current.has(id)) return;
    shown.current.add(id);
    tellEvent({ title, message: body, autoClose: 6000, onClick: open, style: { cursor: 'pointer' } });
    if (!system) return;
    const desktop = desktopNotify(window);
    if (desktop !== null) {
      // Electron: the main process shows it (the same fixed words), whatever the page's permission.
      if (!inView()) void desktop(title, body).catch(() => undefined);
      return;
    }
    if ('Notification' in window && Notification.permission === 'granted' && !inView()) {
      try {
        const system = new Notification(title, { body, tag: id });
        system.onclick = () => {
          window.focus();
          open();
          system.close();
        };
      } catch {
        // A browser that refuses page notifications (some want a service worker): the toast stays.
      }
    }
  };
  const showRef = useRef(show);
  showRef.current = show;

  // A clinician: a patient changed what they share (kinds, access, end). Fixed words, no name.
  const received = useGrantsReceived();
  const sharing = useRef(new Map<string, string>());
  useEffect(() => {
    for (const c of sharingChanged(sharing.current, received)) {
      showRef.current(
        `sharing:${c.patientId}:${c.key}`,
        t('care.notify.sharing.title'),
        t('care.notify.sharing.body'),
        () => void navigate(`/workspace/patients/${encodeURIComponent(c.patientId)}`),
      );
    }
  }, [received, navigate, t]);

  useEffect(() => {
    const sub = session.care.notifications.$.subscribe((n) => {
      showRef.current(n.id, t(`care.notify.${n.type}.title`), t(`care.notify.${n.type}.body`), () => {
        void targetPath(session, n).then((to) => navigate(to));
      });
    });
    return () => sub.unsubscribe();
  }, [session, navigate, t]);

  // The desktop shell reminds from its main process: it gets the start and dose times whenever they
  // change (a dose marked, a schedule edited, the next day's doses coming within the horizon).
  const sent = useRef('');
  const handOver = (): void => {
    const remind = desktopReminders(window);
    if (remind === null) return;
    const now = Date.now();
    const starts = reminderStarts(appointments, now);
    const { medications: m, doses: d } = medicines.current;
    const doseTimes = reminderTimes(m, d, now, DOSE_HORIZON_MS, MAX_DESKTOP_STARTS);
    const words = {
      title: t('care.notify.reminder.title'),
      day: t('care.notify.reminder.day'),
      hour: t('care.notify.reminder.hour'),
      doseTitle: t('care.notify.reminder.doseTitle'),
      dose: t('care.notify.reminder.dose'),
    };
    const key = JSON.stringify([words, starts, doseTimes]);
    if (key === sent.current) return;
    sent.current = key;
    void remind(words, starts, doseTimes).catch(() => undefined);
  };
  const handOverRef = useRef(handOver);
  handOverRef.current = handOver;
  const medicineKey = JSON.stringify([
    medications.map((m) => [m.id, m.updatedAt]),
    doses.map((d) => [d.id, d.updatedAt]),
  ]);
  useEffect(() => handOverRef.current(), [appointments, medicineKey, t]);

  useEffect(() => {
    const byMain = desktopReminders(window) !== null;
    const check = (): void => {
      for (const due of remindersDue(appointments, Date.now(), reminded.current)) {
        reminded.current.add(due.key);
        showRef.current(
          due.key,
          t('care.notify.reminder.title'),
          t(`care.notify.reminder.${due.kind}`),
          () => {
            void navigate(`/care/appointments?focus=${encodeURIComponent(due.id)}`);
          },
          !byMain,
        );
      }
    };
    const checkDoses = (): void => {
      const { medications: m, doses: d } = medicines.current;
      for (const due of dueNow(m, d, Date.now(), DOSE_GRACE_MS)) {
        const key = `dose:${due.medication.id}|${due.slot}`;
        showRef.current(
          key,
          t('care.notify.reminder.doseTitle'),
          t('care.notify.reminder.dose'),
          () => {
            void navigate('/medicines/today');
          },
          !byMain,
        );
      }
    };
    const everyHalfMinute = (): void => {
      check();
      checkDoses();
      handOverRef.current();
    };
    everyHalfMinute();
    const timer = window.setInterval(everyHalfMinute, 30_000);
    return () => window.clearInterval(timer);
  }, [appointments, navigate, t]);

  return null;
}
