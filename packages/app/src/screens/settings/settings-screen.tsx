/**
 * Settings (`/settings`): devices, passphrase, export, language, theme, lock timeout, server address,
 * sync on/off, signing out of this device, deleting the account (delete-account.tsx).
 */
import { useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Group,
  Modal,
  NativeSelect,
  Paper,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError } from '@hale/client';
import { useApp } from '../../boot/app-state';
import { COLOR_SCHEMES, isServerUrl, LANGUAGES, LOCK_MINUTES } from '../../boot/settings';
import { PageHeader } from '../../ui/page-header';
import { DevicesPanel } from './devices-panel';
import { PassphrasePanel } from './passphrase-panel';
import { AppPanel } from './app-panel';
import { DeleteAccount } from './delete-account';
import { haleErrorText } from '../../i18n/error-words';
import { useHaleSession } from '@hale/react';

function ExportPanel(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const download = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const bundle = await session.exportFhir();
      const blob = new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/fhir+json' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `hale-chart-${new Date().toISOString().slice(0, 10)}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(isHaleError(e) ? haleErrorText(t, e) : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p="md">
      <Stack align="flex-start">
        <Title order={2} size="h4">
          {t('settings.export')}
        </Title>
        <Text size="sm" c="dimmed">
          {t('settings.exportExplain')}
        </Text>
        {error !== null && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <Button leftSection={<IconDownload size={18} />} onClick={() => void download()} loading={busy}>
          {t('settings.exportButton')}
        </Button>
      </Stack>
    </Paper>
  );
}

function PreferencesPanel(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={2} size="h4">
          {t('settings.preferences')}
        </Title>
        <NativeSelect
          label={t('settings.language')}
          value={app.settings.language}
          data={LANGUAGES.map((l) => ({ value: l, label: t(`languages.${l}`) }))}
          onChange={(e) => {
            const language = LANGUAGES.find((l) => l === e.currentTarget.value);
            if (language !== undefined) app.updateSettings({ language });
          }}
          maw={320}
        />
        <div>
          <Text size="sm" fw={500} mb={4} id="theme-label">
            {t('settings.theme')}
          </Text>
          <SegmentedControl
            aria-labelledby="theme-label"
            value={app.settings.colorScheme}
            data={COLOR_SCHEMES.map((c) => ({ value: c, label: t(`settings.themes.${c}`) }))}
            onChange={(v) => {
              const scheme = COLOR_SCHEMES.find((c) => c === v);
              if (scheme !== undefined) app.updateSettings({ colorScheme: scheme });
            }}
          />
        </div>
        <NativeSelect
          label={t('settings.lockAfter')}
          description={t('settings.lockAfterHint')}
          value={String(app.settings.lockMinutes)}
          data={LOCK_MINUTES.map((m) => ({ value: String(m), label: t('settings.minutes', { count: m }) }))}
          onChange={(e) => app.updateSettings({ lockMinutes: Number(e.currentTarget.value) })}
          maw={320}
        />
      </Stack>
    </Paper>
  );
}

function ServerPanel(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const session = useHaleSession();
  const [address, setAddress] = useState(app.settings.server);
  const [confirm, setConfirm] = useState(false);
  const valid = isServerUrl(address.endsWith('/') ? address : `${address}/`);
  const offline = app.syncPaused;
  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={2} size="h4">
          {t('settings.server')}
        </Title>
        <Group align="flex-end">
          <TextInput
            label={t('settings.serverAddress')}
            description={t('settings.serverHint')}
            value={address}
            onChange={(e) => setAddress(e.currentTarget.value)}
            error={valid ? undefined : t('settings.serverInvalid')}
            style={{ flex: 1, minWidth: 240 }}
          />
          <Button
            variant="default"
            disabled={!valid || new URL(valid ? address : location.origin).origin === app.settings.server}
            onClick={() => setConfirm(true)}
          >
            {t('common.save')}
          </Button>
        </Group>
        <Group>
          <Text size="sm">{offline ? t('settings.syncPaused') : t('settings.syncOn')}</Text>
          <Button
            size="xs"
            variant="light"
            onClick={() => {
              app.setSyncPaused(!offline);
              if (offline) session.sync.goOnline();
              else session.sync.goOffline();
            }}
          >
            {offline ? t('settings.resumeSync') : t('settings.pauseSync')}
          </Button>
        </Group>
      </Stack>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={t('settings.serverChangeTitle')}
      >
        <Stack>
          <Text>{t('settings.serverChangeExplain')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              {t('common.cancel')}
            </Button>
            <Button onClick={() => app.updateSettings({ server: new URL(address).origin })}>
              {t('settings.serverChangeConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

function AccountPanel(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [confirm, setConfirm] = useState(false);
  return (
    <Paper withBorder p="md">
      <Stack align="flex-start">
        <Title order={2} size="h4">
          {t('settings.account')}
        </Title>
        <Button variant="default" onClick={() => setConfirm(true)}>
          {t('unlock.signOut')}
        </Button>
        <DeleteAccount />
      </Stack>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={t('unlock.signOutTitle')}
      >
        <Stack>
          <Text>{t('unlock.signOutExplain')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" onClick={() => void app.signOut()}>
              {t('unlock.signOutConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

export function SettingsScreen(): ReactNode {
  const { t } = useTranslation();
  return (
    <Stack maw={820}>
      <PageHeader title={t('settings.title')} />
      <DevicesPanel />
      <PreferencesPanel />
      <PassphrasePanel />
      <ExportPanel />
      <ServerPanel />
      <AppPanel />
      <AccountPanel />
    </Stack>
  );
}
