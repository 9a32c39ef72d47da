// A screen's title row: a way back, the title, and the screen's main actions.
import type { ReactNode } from 'react';
import { ActionIcon, Group, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { IconArrowLeft } from '@tabler/icons-react';

export function PageHeader(props: {
  readonly title: ReactNode;
  readonly back?: string;
  readonly actions?: ReactNode;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <Group justify="space-between" wrap="wrap" gap="sm">
      <Group gap="xs" wrap="nowrap">
        {props.back !== undefined && (
          <ActionIcon
            component={Link}
            to={props.back}
            aria-label={t('common.back')}
            className="hale-no-print"
          >
            <IconArrowLeft size={22} />
          </ActionIcon>
        )}
        <Title order={1} size="h2">
          {props.title}
        </Title>
      </Group>
      {props.actions !== undefined && (
        <Group gap="xs" className="hale-no-print">
          {props.actions}
        </Group>
      )}
    </Group>
  );
}
