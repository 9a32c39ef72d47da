/**
 * The app's toasts (one at a time: root.tsx mounts Mantine's Notifications with `limit={1}`).
 *
 * | kind | id | how |
 * |---|---|---|
 * | what the person just did (saved, shared, booked) | Mantine's own | `tell`: shown at once, in place of an event showing |
 * | what others did (care-notifier.tsx) | `CARE_EVENT` | `tellEvent`: one toast, its words replaced by the newest event's |
 *
 * Invariants: events never queue (a burst of them is one toast, the newest words), so a person's own action is
 * never told late behind them.
 */
import { notifications, notificationsStore, type NotificationData } from '@mantine/notifications';

export const CARE_EVENT = 'care-event';

/** What the person just did, shown now: an event toast showing gives way. */
export const tell = (data: NotificationData): void => {
  notifications.hide(CARE_EVENT);
  notifications.show(data);
};

/** What another person did: the one event toast, shown, or given the newest words if it is showing or queued. */
export const tellEvent = (data: Omit<NotificationData, 'id'>): void => {
  const toast = { ...data, id: CARE_EVENT };
  const { notifications: showing, queue } = notificationsStore.getState();
  if ([...showing, ...queue].some((n) => n.id === CARE_EVENT)) notifications.update(toast);
  else notifications.show(toast);
};
