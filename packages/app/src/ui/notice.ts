/**
 * The app's toasts (one at a time: ui/notice-band.tsx mounts Mantine's Notifications with `limit={1}`).
 *
 * | kind | id | how |
 * |---|---|---|
 * | what the person just did (saved, shared, booked) | `ACTION` and a count | `tell`: shown at once, ahead of any other, in place of an older action's or an event's toast |
 * | what others did (care-notifier.tsx) | `CARE_EVENT` | `tellEvent`: one toast, its words replaced by the newest event's |
 * | the app's release (sw/release-notices.tsx) | its own | queued behind an action's toast |
 *
 * Invariants:
 * - A person's own action is never told late: its toast goes first (`priority`), and an older action's or
 *   an event's toast, showing or queued, gives way.
 * - Events never queue (a burst of them is one toast, the newest words).
 */
import { notifications, notificationsStore, type NotificationData } from '@mantine/notifications';

export const CARE_EVENT = 'care-event';
export const ACTION = 'hale-action-';
/** Ahead of news and events in Mantine's queue. */
const ACTION_PRIORITY = 1;
let told = 0;

const held = (): NotificationData[] => {
  const { notifications: showing, queue } = notificationsStore.getState();
  return [...showing, ...queue];
};

/** What the person just did, shown now; answers the toast's id. */
export const tell = (data: Omit<NotificationData, 'id' | 'priority'>): string => {
  for (const n of held()) {
    if (n.id !== undefined && (n.id === CARE_EVENT || n.id.startsWith(ACTION))) notifications.hide(n.id);
  }
  told += 1;
  return notifications.show({ ...data, id: `${ACTION}${told}`, priority: ACTION_PRIORITY });
};

/** What another person did: the one event toast, shown, or given the newest words if it is showing or queued. */
export const tellEvent = (data: Omit<NotificationData, 'id'>): void => {
  const toast = { ...data, id: CARE_EVENT };
  if (held().some((n) => n.id === CARE_EVENT)) notifications.update(toast);
  else notifications.show(toast);
};
