/**
 * The chart's sections (its overview and each kind the grant shares): on a wide screen a row of links that
 * wraps onto a second line rather than scrolling sideways or cutting a name short; on a phone one button
 * naming the section shown, opening a menu of them (arrow keys, Enter, Escape, as a menu takes).
 * Invariant: the section shown carries `aria-current="page"` in either form.
 */
import type { ReactNode } from 'react';
import { Button, Group, Menu } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconCheck, IconChevronDown } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

export interface Section {
  readonly to: string;
  readonly label: string;
  readonly active: boolean;
}

export function ChartNav(props: { readonly sections: readonly Section[] }): ReactNode {
  const { t } = useTranslation();
  const phone = useMediaQuery('(max-width: 48em)', false, { getInitialValueInEffect: false });
  const current = props.sections.find((s) => s.active);
  return (
    <nav aria-label={t('workspace.chart.sections')}>
      {phone ? (
        <Menu position="bottom-start" width="target" shadow="md">
          <Menu.Target>
            <Button
              variant="default"
              fullWidth
              justify="space-between"
              rightSection={<IconChevronDown size={18} aria-hidden />}
              data-testid="chart-sections-menu"
            >
              {t('workspace.chart.sectionNow', { section: current?.label ?? t('workspace.chart.overview') })}
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            {props.sections.map((s) => (
              <Menu.Item
                key={s.to}
                component={Link}
                to={s.to}
                aria-current={s.active ? 'page' : undefined}
                rightSection={s.active ? <IconCheck size={16} aria-hidden /> : undefined}
                fw={s.active ? 700 : undefined}
              >
                {s.label}
              </Menu.Item>
            ))}
          </Menu.Dropdown>
        </Menu>
      ) : (
        <Group gap={4} wrap="wrap">
          {props.sections.map((s) => (
            <Button
              key={s.to}
              component={Link}
              to={s.to}
              size="sm"
              variant={s.active ? 'light' : 'subtle'}
              aria-current={s.active ? 'page' : undefined}
              styles={{ label: { overflow: 'visible' } }}
            >
              {s.label}
            </Button>
          ))}
        </Group>
      )}
    </nav>
  );
}
