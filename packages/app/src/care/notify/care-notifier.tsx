/**
 * Notifications while the app runs (mounted once in the open app's frame): what others did — a message,
 * an appointment moved, a plan to acknowledge or acknowledged, a co-signature asked — and reminders of
 * confirmed appointments (a day, then an hour before).
 *
 * | where | when |
 * |---|---|
 * | in the app (a toast) | always |
 * | the system (browser `Notification`) | permission granted and the app not in view |
 * | the system (desktop shell: its preload's `notify`, desktop.ts) | the app not in view |
 * | reminders on the desktop shell: its main process (`setReminders`: start times and fixed words) | a day and an hour before, also while the app is locked |
 *
 * Invariants: the words are fixed per type (care.notify.*) and name no health content — no message text,
 * name, reason, plan or time — so they may show on a locked screen; each notification once (by its id).
 * A closed web app gets nothing: push needs a push service these machines cannot reach.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { notifications } from '@mantine/notifications';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import type { CareNotification, HaleSession } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { threadPath } from '../messages/paths';
import { desktopNotify, desktopReminders } from './desktop';
import { reminderStarts, remindersDue } from './reminders';

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
  const reminded = useRef(new Set<string>());
  const shown = useRef(new Set<string>());

  /** `system: false`: the toast only (the desktop shell's main process shows its own reminders). */
  const show = (id: string, title: string, body: string, open: () => void, system = true): void => {
    if (shown.current.has(id)) return;
    shown.current.add(id);
    notifications.show({
      id,
      title,
      message: body,
      autoClose: 6000,
      onClick: open,
      style: { cursor: 'pointer' },
    });
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

  useEffect(() => {
    const sub = session.care.notifications.$.subscribe((n) => {
      showRef.current(n.id, t(`care.notify.${n.type}.title`), t(`care.notify.${n.type}.body`), () => {
        void targetPath(session, n).then((to) => navigate(to));
      });
    });
    return () => sub.unsubscribe();
  }, [session, navigate, t]);

  // The desktop shell reminds from its main process: it gets the start times whenever they change.
  const starts = reminderStarts(appointments, Date.now()).join(',');
  useEffect(() => {
    const remind = desktopReminders(window);
    if (remind === null) return;
    const words = {
      title: t('care.notify.reminder.title'),
      day: t('care.notify.reminder.day'),
      hour: t('care.notify.reminder.hour'),
    };
    const list = starts === '' ? [] : starts.split(',').map(Number);
    void remind(words, list).catch(() => undefined);
  }, [starts, t]);

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
    check();
    const timer = window.setInterval(check, 30_000);
    return () => window.clearInterval(timer);
  }, [appointments, navigate, t]);

  return null;
}
