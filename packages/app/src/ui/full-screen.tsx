// Whole-page states: loading, a failure to open the app, a page that does not exist.
import type { ReactNode } from 'react';
import { Alert, Button, Center, Loader, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useRouteError } from 'react-router';

export function FullScreenLoader(): ReactNode {
  const { t } = useTranslation();
  return (
    <Center h="100dvh">
      <Loader aria-label={t('common.loading')} />
    </Center>
  );
}

export function FullScreenMessage(props: {
  readonly error?: string | null;
  readonly notFound?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  if (props.notFound === true) {
    return (
      <Stack p="xl" maw={560}>
        <Title order={1}>{t('notFound.title')}</Title>
        <Text>{t('notFound.body')}</Text>
        <Button component={Link} to="/" w="fit-content">
          {t('notFound.home')}
        </Button>
      </Stack>
    );
  }
  return (
    <Center h="100dvh" p="md">
      <Stack maw={560}>
        <Title order={1}>{t('failed.title')}</Title>
        <Alert color="red" title={t('failed.what')}>
          {props.error ?? t('failed.unknown')}
        </Alert>
        <Text>{t('failed.todo')}</Text>
        <Button onClick={() => location.reload()} w="fit-content">
          {t('failed.reload')}
        </Button>
      </Stack>
    </Center>
  );
}

/** A screen that failed to render or load (a bug, or a chunk the network did not deliver): said, with a way on. */
export function RouteError(): ReactNode {
  const { t } = useTranslation();
  const error = useRouteError();
  const message = error instanceof Error ? error.message : String(error);
  // A screen's code that did not arrive (offline before it was ever loaded).
  const chunk = /dynamically imported module|Importing a module script failed/.test(message);
  return <FullScreenMessage error={chunk ? t('failed.chunk') : message} />;
}
