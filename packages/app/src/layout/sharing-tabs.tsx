/**
 * The Sharing area's two parts, as tabs above its screens: sharing with the care team (`/care/sharing`,
 * grants to clinicians with Hale accounts) and links anyone can open (`/records/share`, SMART Health
 * Links). Shown only on those two screens; each keeps its own route. Links, not ARIA tabs: each part is
 * its own page (`aria-current` marks the one shown). On a phone both sit on one row with short labels.
 */
import type { ReactNode } from 'react';
import { Box, Button, Group } from '@mantine/core';
import { IconLink, IconUsers } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'react-router';

export const SHARING_TABS = [
  {
    to: '/care/sharing',
    label: 'nav.sharingTabs.people',
    short: 'nav.sharingTabs.peopleShort',
    icon: IconUsers,
  },
  {
    to: '/records/share',
    label: 'nav.sharingTabs.links',
    short: 'nav.sharingTabs.linksShort',
    icon: IconLink,
  },
] as const;

export function SharingTabs(): ReactNode {
  const { t } = useTranslation();
  const { pathname } = useLocation();
  if (!SHARING_TABS.some((tab) => tab.to === pathname)) return null;
  return (
    <Group
      component="nav"
      aria-label={t('nav.sharingTabs.label')}
      gap="xs"
      wrap="nowrap"
      mb="md"
      pb="xs"
      className="hale-no-print"
      style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}
      data-testid="sharing-tabs"
    >
      {SHARING_TABS.map((tab) => {
        const current = tab.to === pathname;
        return (
          <Button
            key={tab.to}
            component={Link}
            to={tab.to}
            variant={current ? 'light' : 'subtle'}
            {...(current ? {} : { color: 'gray' })}
            leftSection={<tab.icon size={18} aria-hidden />}
            aria-current={current ? 'page' : undefined}
          >
            <Box component="span" visibleFrom="sm">
              {t(tab.label)}
            </Box>
            <Box component="span" hiddenFrom="sm">
              {t(tab.short)}
            </Box>
          </Button>
        );
      })}
    </Group>
  );
}
