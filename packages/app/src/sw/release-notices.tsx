/**
 * The installed web app on the page: registers the release service worker (register.ts) on an http(s)
 * page (not in Electron, whose code is fixed when it is installed), asks for persistent storage, and says
 * in words what the worker reports. Settings reads `releaseState()` for its "This app" panel.
 *
 * | event | notice |
 * |---|---|
 * | `installed` | green, closes by itself: the app now opens without network (and, for a development build, that anyone can sign its updates) |
 * | `updated` | blue, stays: updated from … to …, signed by the release key; a Reload button when this page runs the older one |
 * | `refused` | red, stays: an update was offered but not signed by the release key, not installed |
 * | `worker-replaced` | red, stays: the server replaced the app's core without a signed release |
 * | `storage`, `unsupported` | no notice: shown in Settings |
 *
 * Invariants: a worker event is said once per device (the last one said is remembered in localStorage, so
 * the event the worker kept from a check made while no page was open is said when the next page opens).
 */
import { Button, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import type { i18n as I18n } from 'i18next';
import { registerReleaseWorker, type PageReleaseEvent, type ReleaseWorker } from './register';

declare const __HALE_APP_VERSION__: string;

export interface ReleaseState {
  readonly worker: ReleaseWorker | null;
  /** Null until the browser answered (or when it cannot keep storage). */
  readonly persisted: boolean | null;
  readonly unsupported: boolean;
  readonly runningVersion: string;
}

const SEEN_KEY = 'hale.release.seen';
let state: ReleaseState = {
  worker: null,
  persisted: null,
  unsupported: false,
  runningVersion: typeof __HALE_APP_VERSION__ === 'string' ? __HALE_APP_VERSION__ : 'dev',
};
export const releaseState = (): ReleaseState => state;

const sayOnce = (event: PageReleaseEvent, say: () => void): void => {
  const text = JSON.stringify(event);
  try {
    if (localStorage.getItem(SEEN_KEY) === text) return;
    localStorage.setItem(SEEN_KEY, text);
  } catch {
    // Storage refused: say it anyway.
  }
  say();
};

const notice = (i18n: I18n, event: PageReleaseEvent): void => {
  const t = i18n.t.bind(i18n);
  const closeButtonProps = { 'aria-label': t('common.close') };
  switch (event.type) {
    case 'installed':
      sayOnce(event, () =>
        notifications.show({
          closeButtonProps,
          id: 'hale-release',
          // News, not a warning: a status for screen readers (a refusal below stays an alert).
          role: 'status',
          color: 'teal',
          title: t('release.installedTitle'),
          message: `${t('release.installed', { version: event.version })}${event.dev ? ` ${t('release.devBuild')}` : ''}`,
          autoClose: 8000,
        }),
      );
      return;
    case 'updated':
      sayOnce(event, () =>
        notifications.show({
          closeButtonProps,
          id: 'hale-release',
          role: 'status',
          color: 'blue',
          title: t('release.updatedTitle'),
          autoClose: false,
          message: (
            <Stack gap={6} align="flex-start">
              <Text size="sm">{t('release.updated', { from: event.from, to: event.to })}</Text>
              {event.to !== state.runningVersion && (
                <Button size="xs" onClick={() => location.reload()}>
                  {t('release.reload')}
                </Button>
              )}
            </Stack>
          ),
        }),
      );
      return;
    case 'refused':
      sayOnce(event, () =>
        notifications.show({
          closeButtonProps,
          id: 'hale-release-refused',
          color: 'red',
          title: t('release.refusedTitle'),
          message: t('release.refused', { version: event.offered ?? '?', why: event.message }),
          autoClose: false,
        }),
      );
      return;
    case 'worker-replaced':
      sayOnce(event, () =>
        notifications.show({
          closeButtonProps,
          id: 'hale-release-replaced',
          color: 'red',
          title: t('release.replacedTitle'),
          message: t('release.replaced'),
          autoClose: false,
        }),
      );
      return;
    case 'storage':
      state = { ...state, persisted: event.persisted };
      return;
    case 'unsupported':
      state = { ...state, unsupported: true };
      return;
  }
};

/** Registers the worker on a web page (http or https); nothing elsewhere (Electron's `app:` pages). */
export async function startReleaseWorker(i18n: I18n): Promise<void> {
  if (location.protocol !== 'https:' && location.protocol !== 'http:') return;
  try {
    const worker = await registerReleaseWorker({
      navigator,
      fetch: (url, init) => fetch(url, init),
      subtle: crypto.subtle,
      onRelease: (event) => notice(i18n, event),
    });
    state = { ...state, worker };
    if (worker === null) return;
    const status = await worker.status();
    if (status?.lastEvent != null) notice(i18n, status.lastEvent);
  } catch {
    // Registration refused (a private window, a browser setting): the app runs from the network.
    state = { ...state, unsupported: true };
  }
}
