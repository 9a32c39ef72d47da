/**
 * Sync follows the browser's network state: when the browser says it is offline the session stops
 * syncing (the sync badge then says offline at once, rather than waiting for a socket to time out), and
 * starts again when it is back, unless the person paused sync themselves (settings).
 */
import { useEffect } from 'react';
import type { HaleSession } from '@hale/client';

export const useNetworkFollow = (session: HaleSession, pausedByPerson: boolean): void => {
  useEffect(() => {
    if (pausedByPerson) return;
    const offline = (): void => session.sync.goOffline();
    const online = (): void => session.sync.goOnline();
    if (!navigator.onLine) offline();
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('offline', offline);
      window.removeEventListener('online', online);
    };
  }, [session, pausedByPerson]);
};
