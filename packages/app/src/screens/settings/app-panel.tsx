/**
 * Settings → This app: the version this page runs, whether the installed web app keeps it on the device
 * (the release service worker's answer), whether the browser keeps the data under storage pressure, and a
 * check for a signed update. Says what it knows; nothing here changes records.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { releaseState } from '../../sw/release-notices';
import type { ReleaseStatus } from '../../sw/register';

export function AppPanel(): ReactNode {
  const { t } = useTranslation();
  const state = releaseState();
  const [status, setStatus] = useState<ReleaseStatus | null>(null);
  const [asked, setAsked] = useState(false);
  useEffect(() => {
    let live = true;
    void state.worker?.status().then((s) => {
      if (live) setStatus(s);
    });
    return () => {
      live = false;
    };
  }, [state.worker]);
  const installed = status?.installed ?? null;
  return (
    <Paper withBorder p="md" data-testid="app-panel">
      <Stack align="flex-start" gap="xs">
        <Title order={2} size="h4">
          {t('release.panelTitle')}
        </Title>
        <Text size="sm">{t('release.version', { version: installed?.version ?? state.runningVersion })}</Text>
        <Text size="sm" c="dimmed" data-testid="app-offline" data-ready={installed !== null}>
          {state.unsupported || (state.worker === null && status === null)
            ? t('release.notInstalled')
            : installed !== null
              ? t('release.offlineReady')
              : t('release.offlinePending')}
        </Text>
        {installed?.dev === true && (
          <Alert color="orange" p="xs" role="note">
            <Text size="sm">{t('release.devBuild')}</Text>
          </Alert>
        )}
        {state.persisted !== null && (
          <Text size="sm" c="dimmed">
            {state.persisted ? t('release.persisted') : t('release.notPersisted')}
          </Text>
        )}
        {state.worker !== null && (
          <Button
            size="xs"
            variant="light"
            onClick={() => {
              state.worker?.checkNow();
              setAsked(true);
            }}
          >
            {t('release.check')}
          </Button>
        )}
        {asked && (
          <Text size="sm" role="status">
            {t('release.checking')}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
