/**
 * The app's providers around the router: state (session, settings), Mantine (theme, colour scheme,
 * notifications), dates, i18next. The language and colour scheme follow the settings live.
 */
import { StrictMode, useEffect, useMemo, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider, mergeThemeOverrides } from '@mantine/core';
import { DatesProvider } from '@mantine/dates';
import { I18nextProvider } from 'react-i18next';
import type { i18n as I18n } from 'i18next';
import { dayjs } from './boot/dayjs';
import { RouterProvider } from 'react-router';
import { AppStateProvider, useApp } from './boot/app-state';
import { defaultSettings, readSettings, type Language } from './boot/settings';
import { createI18n, HTML_LANG } from './i18n/index';
import { cssVariablesResolver, theme } from './theme';
import { router } from './router';
import { startReleaseWorker } from './sw/release-notices';
import { RootNotices } from './ui/notice-band';

const DAYJS_LOCALE: Record<Language, string> = { en: 'en', 'zh-Hant': 'zh-tw', 'zh-Hans': 'zh-cn' };

function Themed(props: { readonly i18n: I18n; readonly children: ReactNode }): ReactNode {
  const { settings } = useApp();
  const { i18n } = props;
  // Every notice's close button and passphrase field's show/hide button is named in the person's language.
  const closeLabel = i18n.t('common.close', { lng: settings.language });
  const toggleLabel = i18n.t('common.showHidden', { lng: settings.language });
  const themed = useMemo(
    () =>
      mergeThemeOverrides(theme, {
        components: {
          Notification: { defaultProps: { closeButtonProps: { 'aria-label': closeLabel } } },
          PasswordInput: { defaultProps: { visibilityToggleButtonProps: { 'aria-label': toggleLabel } } },
        },
      }),
    [closeLabel, toggleLabel],
  );
  useEffect(() => {
    void i18n.changeLanguage(settings.language);
    dayjs.locale(DAYJS_LOCALE[settings.language]);
    document.documentElement.lang = HTML_LANG[settings.language];
  }, [i18n, settings.language]);
  return (
    <MantineProvider
      theme={themed}
      cssVariablesResolver={cssVariablesResolver}
      defaultColorScheme="auto"
      {...(settings.colorScheme === 'auto' ? {} : { forceColorScheme: settings.colorScheme })}
    >
      {/* No weekend colouring: Mantine's red weekend days read at 3.3:1 on white (AA asks 4.5:1). */}
      <DatesProvider
        settings={{ locale: DAYJS_LOCALE[settings.language], firstDayOfWeek: 1, weekendDays: [] }}
      >
        {/* One notice at a time, never over a control (ui/notice-band.tsx). */}
        <RootNotices>{props.children}</RootNotices>
      </DatesProvider>
    </MantineProvider>
  );
}

/** The code of a pairing link opened here (`/#pair=CODE`, the QR code a new device shows), or null. */
const pairingCodeOf = (hash: string): string | null => {
  const m = /^#pair=([A-Za-z0-9-]{1,40})$/.exec(hash);
  return m?.[1] ?? null;
};

export async function startApp(element: HTMLElement): Promise<void> {
  // A pairing link opened on a signed-in device: Settings → add a device, with the code (after unlock).
  const pairCode = pairingCodeOf(location.hash);
  if (pairCode !== null) void router.navigate(`/settings?pair=${pairCode}`, { replace: true });
  const language = readSettings(localStorage, defaultSettings(location.origin, navigator.languages)).language;
  const i18n = await createI18n(language);
  dayjs.locale(DAYJS_LOCALE[language]);
  document.documentElement.lang = HTML_LANG[language];
  createRoot(element).render(
    <StrictMode>
      <I18nextProvider i18n={i18n}>
        <AppStateProvider>
          <Themed i18n={i18n}>
            <RouterProvider router={router} />
          </Themed>
        </AppStateProvider>
      </I18nextProvider>
    </StrictMode>,
  );
  // The installed web app: the release service worker, persistent storage, and its notices.
  void startReleaseWorker(i18n);
}
