import { beforeEach, describe, expect, it } from 'vitest';
import { notifications, notificationsStore } from '@mantine/notifications';
import { ACTION, CARE_EVENT, tell, tellEvent } from './notice';

const state = () => notificationsStore.getState();
const ids = (list: ReadonlyArray<{ id?: string }>) => list.map((n) => n.id);

describe('toasts', () => {
  beforeEach(() => {
    // As root.tsx mounts them: one at a time.
    notificationsStore.setState({ notifications: [], queue: [], limit: 1, defaultPosition: 'top-center' });
  });

  it('a burst of actions shows the newest at once, nothing left queued behind it', () => {
    tell({ message: 'Saved one' });
    tell({ message: 'Saved two' });
    const last = tell({ message: 'Saved three' });
    expect(ids(state().notifications)).toEqual([last]);
    expect(state().notifications[0]?.message).toBe('Saved three');
    expect(state().queue).toEqual([]);
  });

  it('an action goes ahead of a release notice, which shows after it', () => {
    notifications.show({ id: 'hale-release', message: 'Installed', autoClose: 8000 });
    const saved = tell({ message: 'Saved' });
    expect(ids(state().notifications)).toEqual([saved]);
    expect(ids(state().queue)).toEqual(['hale-release']);
    notifications.hide(saved);
    expect(ids(state().notifications)).toEqual(['hale-release']);
  });

  it("an event gives way to an action and is one toast, the newest event's words", () => {
    tellEvent({ message: 'A message' });
    tellEvent({ message: 'An appointment moved' });
    expect(ids([...state().notifications, ...state().queue])).toEqual([CARE_EVENT]);
    expect(state().notifications[0]?.message).toBe('An appointment moved');
    const saved = tell({ message: 'Saved' });
    expect(saved.startsWith(ACTION)).toBe(true);
    expect(ids([...state().notifications, ...state().queue])).toEqual([saved]);
    // An event after the action waits behind it.
    tellEvent({ message: 'A plan to read' });
    expect(ids(state().notifications)).toEqual([saved]);
    expect(ids(state().queue)).toEqual([CARE_EVENT]);
  });
});
