/**
 * The accesses to the patient's shared links and emergency card seen while the app runs, per open session
 * (a WeakMap: a new session after unlocking starts empty; a locked app keeps nothing). LinkAlerts feeds it
 * from `io.watchLinkAccess`; screens read it (`useAccessFeed`) to show an access the moment it happens.
 *
 * Invariant: an access is told once (the library deduplicates); `seen` marks the ones the person dismissed.
 */
import { useSyncExternalStore } from 'react';
import type { HaleSession } from '@hale/client';

export interface FeedAccess {
  readonly key: string;
  readonly linkId: string;
  readonly at: string;
  readonly outcome: 'opened' | 'wrong-passcode' | 'refused';
  readonly recipient: string;
  /** The link's label and whether it is an emergency card, when the link list named it. */
  readonly label: string | undefined;
  readonly emergency: boolean;
  readonly seen: boolean;
}

export interface AccessFeedState {
  /** The watch is running: accesses from now on are told. */
  readonly ready: boolean;
  readonly accesses: readonly FeedAccess[];
}

class AccessFeed {
  private state: AccessFeedState = { ready: false, accesses: [] };
  private readonly listeners = new Set<() => void>();
  get = (): AccessFeedState => this.state;
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  private set(next: AccessFeedState): void {
    this.state = next;
    for (const l of this.listeners) l();
  }
  ready(ready: boolean): void {
    if (ready !== this.state.ready) this.set({ ...this.state, ready });
  }
  add(access: FeedAccess): void {
    // The newest first; a long-running app keeps the last 200.
    this.set({ ...this.state, accesses: [access, ...this.state.accesses].slice(0, 200) });
  }
  markSeen(keys?: readonly string[]): void {
    this.set({
      ...this.state,
      accesses: this.state.accesses.map((a) =>
        keys === undefined || keys.includes(a.key) ? { ...a, seen: true } : a,
      ),
    });
  }
}

const feeds = new WeakMap<HaleSession, AccessFeed>();

export const accessFeedOf = (session: HaleSession): AccessFeed => {
  const held = feeds.get(session);
  if (held !== undefined) return held;
  const feed = new AccessFeed();
  feeds.set(session, feed);
  return feed;
};

export const useAccessFeed = (session: HaleSession): AccessFeedState => {
  const feed = accessFeedOf(session);
  return useSyncExternalStore(feed.subscribe, feed.get);
};
