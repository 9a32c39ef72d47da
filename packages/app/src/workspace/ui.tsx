// Small pieces the workspace's screens share: a titled card, a label over a value, an error said in words.
import type { ReactNode } from 'react';
import { Alert, Anchor, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import type { TFunction } from 'i18next';
import { isHaleError } from '@hale/client';
import { haleErrorText } from '../i18n/error-words';

export function Card(props: {
  readonly title: string;
  readonly link?: { readonly to: string; readonly label: string };
  readonly children: ReactNode;
  readonly testId?: string;
  readonly actions?: ReactNode;
}): ReactNode {
  return (
    <Paper withBorder p="md" data-testid={props.testId}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Title order={2} size="h4">
            {props.title}
          </Title>
          <Group gap="xs">
            {props.actions}
            {props.link !== undefined && (
              <Anchor component={Link} to={props.link.to} size="sm">
                {props.link.label}
              </Anchor>
            )}
          </Group>
        </Group>
        {props.children}
      </Stack>
    </Paper>
  );
}

export function Field(props: { readonly label: string; readonly children: ReactNode }): ReactNode {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {props.label}
      </Text>
      <Text component="div" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {props.children === '' || props.children === undefined || props.children === null
          ? '—'
          : props.children}
      </Text>
    </div>
  );
}

/** A refusal in words: the workspace's or the records' words for its code, else the error table's. */
export const errorText = (t: TFunction, e: unknown): string => {
  if (isHaleError(e)) {
    if (e.code === 'NETWORK' || e.code === 'TIMEOUT') return t('workspace.error.offline');
    return t(`workspace.error.${e.code}`, { defaultValue: haleErrorText(t, e, 'recordError') });
  }
  return e instanceof Error ? e.message : String(e);
};

export function ErrorAlert(props: { readonly title: string; readonly error: string | null }): ReactNode {
  if (props.error === null) return null;
  return (
    <Alert color="red" role="alert" title={props.title}>
      <Text size="sm" style={{ whiteSpace: 'pre-line' }}>
        {props.error}
      </Text>
    </Alert>
  );
}
