/**
 * The open app's frame: a header (menu, name, search, sync badge, lock), the navigation by section, and
 * the screen. Below it every hook reads the open session (`HaleProvider`). Idle time locks the app; a
 * device removed from its account shows that instead of the chart.
 *
 * - A skip link (the first thing Tab reaches) moves focus to the screen (`#main`).
 * - The navigation scrolls apart from the device footer below it; the current screen's item is scrolled
 *   into view whenever the route changes, so it is never left behind the footer.
 * - `#main` carries `data-route-ready`: the path and query of the screen drawn once the router is idle
 *   (a lazy route's code loaded and rendered); the journeys' `go()` waits for it.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import {
  ActionIcon,
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  ScrollArea,
  Stack,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { IconLock, IconSearch } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigation } from 'react-router';
import { HaleProvider, useDeviceRemoved, useDevices, useHaleSession } from '@hale/react';
import { useApp, useOpenSession } from '../boot/app-state';
import { useIdleLock } from '../boot/idle-lock';
import { useNetworkFollow } from '../boot/network-follow';
import { NAV_SECTIONS } from './nav';
import { SyncBadge } from './sync-badge';
import { SharingTabs } from './sharing-tabs';
import { LinkAlerts } from '../screens/io/link-alerts';
import { CareNotifier } from '../care/notify/care-notifier';
import { afterOpeningScreen } from '../boot/opening-screen';
import { HostedNotices } from '../ui/notice-band';

export function AppLayout(): ReactNode {
  const session = useOpenSession();
  return (
    <HaleProvider session={session}>
      <Frame />
    </HaleProvider>
  );
}

const isActive = (path: string, to: string, also: readonly string[] = []): boolean =>
  to === '/' ? path === '/' : [to, ...also].some((p) => path === p || path.startsWith(`${p}/`));

function Frame(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const session = useHaleSession();
  // This device's name as the account's list has it (renamed from another device too), else as unlocked.
  const thisName = useDevices()?.active.find((d) => d.current)?.name ?? session.account.deviceName;
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure(false);
  // Below the md breakpoint the closed menu is off-screen: inert, so Tab never walks its hidden links.
  const wide = useMediaQuery('(min-width: 62em)', true, { getInitialValueInEffect: false });
  const navHidden = !wide && !opened;
  // The removal alone: the sync's counts change at every write and would draw the whole frame again.
  const removed = useDeviceRemoved();
  const navigation = useNavigation();
  const navList = useRef<HTMLDivElement>(null);
  const here = location.pathname + location.search;
  useEffect(() => {
    navList.current?.querySelector('a[data-active]')?.scrollIntoView({ block: 'nearest' });
  }, [here]);
  useIdleLock(true, app.settings.lockMinutes, () => void app.lock());
  useNetworkFollow(session, app.syncPaused);
  useEffect(() => {
    // 1.5 s on, once the opening screen is drawn (its reads done), then when the page is idle.
    let idle: number | undefined;
    let cancel = (): void => undefined;
    const preload = (): void => void import('../router').then((m) => m.preloadScreens());
    const timer = window.setTimeout(() => {
      cancel = afterOpeningScreen(() => {
        if (typeof window.requestIdleCallback === 'function')
          idle = window.requestIdleCallback(preload, { timeout: 15_000 });
        else preload();
      }, 10_000);
    }, 1500);
    return () => {
      window.clearTimeout(timer);
      cancel();
      if (idle !== undefined) window.cancelIdleCallback(idle);
    };
  }, []);
  const sections = NAV_SECTIONS.filter((s) => s.roles.includes(session.account.role));
  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 260, breakpoint: 'md', collapsed: { mobile: !opened } }}
      padding={{ base: 'sm', sm: 'lg' }}
    >
      <a
        href="#main"
        className="hale-skip-link"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        {t('nav.skip')}
      </a>
      <AppShell.Header>
        <Group h="100%" px="sm" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="md" aria-label={t('nav.menu')} />
            <Link
              to="/"
              style={{ textDecoration: 'none', color: 'inherit' }}
              aria-label={`Hale – ${t('nav.home')}`}
            >
              <Group gap={8} wrap="nowrap">
                <img src="/favicon.svg" alt="" width={28} height={28} />
                <Title order={2} size="h3" visibleFrom="xs">
                  Hale
                </Title>
              </Group>
            </Link>
          </Group>
          <Group gap={4} wrap="nowrap">
            <SyncBadge />
            <Tooltip label={t('search.title')}>
              <ActionIcon component={Link} to="/search" aria-label={t('search.title')}>
                <IconSearch size={20} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label={t('lock.now')}>
              <ActionIcon onClick={() => void app.lock()} aria-label={t('lock.now')} data-testid="lock-now">
                <IconLock size={20} />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t('nav.label')} inert={navHidden}>
        <AppShell.Section grow component={ScrollArea} type="auto" scrollbars="y" offsetScrollbars>
          <div ref={navList}>
            {sections.map((section) => (
              <Stack key={section.key} gap={0} mb="sm">
                <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" py={6}>
                  {t(section.label)}
                </Text>
                {section.items.map((item) => (
                  <NavLink
                    key={item.to}
                    component={Link}
                    to={item.to}
                    label={t(item.label)}
                    leftSection={<item.icon size={20} stroke={1.6} aria-hidden />}
                    active={isActive(location.pathname, item.to, item.also)}
                    onClick={close}
                    style={{ borderRadius: 'var(--mantine-radius-md)' }}
                  />
                ))}
              </Stack>
            ))}
          </div>
        </AppShell.Section>
        <AppShell.Section p="sm" style={{ borderTop: '1px solid var(--app-shell-border-color)' }}>
          <Text size="xs" c="dimmed" truncate>
            {t('nav.device', { name: thisName || t('nav.thisDevice') })}
          </Text>
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main
        id="main"
        tabIndex={-1}
        data-route-ready={navigation.state === 'idle' ? here : ''}
        style={{ outline: 'none' }}
      >
        <HostedNotices />
        {session.account.role === 'patient' && !removed && <LinkAlerts />}
        {!removed && <SharingTabs />}
        {removed ? <Removed /> : <Outlet />}
      </AppShell.Main>
      {!removed && <CareNotifier />}
    </AppShell>
  );
}

function Removed(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  return (
    <Stack maw={560} data-testid="device-removed">
      <Title order={1} size="h2">
        {t('removed.title')}
      </Title>
      <Text>{t('removed.body')}</Text>
      <Text size="sm" c="dimmed">
        {t('removed.unsent')}
      </Text>
      <Button color="red" w="fit-content" onClick={() => void app.signOut()}>
        {t('removed.signOut')}
      </Button>
    </Stack>
  );
}
