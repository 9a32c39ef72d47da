/**
 * This account's devices: each active one (this one marked) with a way to rename it and, for the others,
 * to revoke it after a warning of what that does; the revoked ones below. The server cuts a revoked device
 * off at once; a new name is sealed to the account (the server cannot read it) and shows on every device.
 * "Add a device" pairs a new one (screens/pairing/add-device.tsx); `?pair=CODE` (a pairing link) opens it.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { Alert, Badge, Button, Group, Modal, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { isHaleError, type ListedDevice } from '@hale/client';
import { useDevices, useHaleSession } from '@hale/react';
import { formatDate, shortId } from '../../records/format';
import { haleErrorText } from '../../i18n/error-words';
import { AddDeviceModal } from '../pairing/add-device';

export function DevicesPanel(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const devices = useDevices();
  const [revoking, setRevoking] = useState<ListedDevice | null>(null);
  const [renaming, setRenaming] = useState<ListedDevice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [params, setParams] = useSearchParams();
  const linkCode = params.get('pair');
  const [adding, setAdding] = useState(linkCode !== null);
  // Read anew when opened: the frame keeps the list (its footer names this device) between reads.
  useEffect(() => {
    session.devices.refresh();
  }, [session]);
  const closeAdding = (): void => {
    setAdding(false);
    if (linkCode !== null) setParams({}, { replace: true });
    session.devices.refresh();
  };
  const revoke = async (): Promise<void> => {
    if (revoking === null) return;
    setBusy(true);
    setError(null);
    try {
      await session.devices.revoke(revoking.deviceId);
      setRevoking(null);
    } catch (e) {
      setError(
        isHaleError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT')
          ? t('devices.offline')
          : isHaleError(e)
            ? e.message
            : String(e),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p="md">
      <Stack>
        <Group justify="space-between" wrap="wrap">
          <Title order={2} size="h4">
            {t('devices.title')}
          </Title>
          <Button variant="light" onClick={() => setAdding(true)}>
            {t('pairing.addButton')}
          </Button>
        </Group>
        {devices === null ? (
          <Text c="dimmed" size="sm">
            {t('devices.loading')}
          </Text>
        ) : (
          <Stack gap={0} data-testid="devices">
            {devices.active.map((d) => (
              <Group
                key={d.deviceId}
                justify="space-between"
                py="sm"
                wrap="wrap"
                gap="xs"
                data-testid="device-row"
                style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}
              >
                <div>
                  <Title order={3} fz="md" fw={600}>
                    {d.name ?? shortId(d.deviceId)}
                  </Title>
                  <Text size="xs" c="dimmed">
                    {t('devices.added', { when: formatDate(d.createdAt) })}
                  </Text>
                </div>
                <Group gap="xs">
                  {d.current && <Badge variant="light">{t('devices.thisOne')}</Badge>}
                  <Button
                    size="xs"
                    variant="default"
                    onClick={() => setRenaming(d)}
                    aria-label={t('devices.renameNamed', { name: d.name ?? shortId(d.deviceId) })}
                  >
                    {t('devices.rename')}
                  </Button>
                  {!d.current && (
                    <Button
                      size="xs"
                      color="red"
                      variant="light"
                      onClick={() => setRevoking(d)}
                      aria-label={t('devices.revokeNamed', { name: d.name ?? shortId(d.deviceId) })}
                    >
                      {t('devices.revoke')}
                    </Button>
                  )}
                </Group>
              </Group>
            ))}
            {devices.revoked.map((d) => (
              <Group key={d.deviceId} justify="space-between" py="sm" wrap="wrap" gap="xs">
                <div>
                  <Text c="dimmed">{d.name ?? shortId(d.deviceId)}</Text>
                  <Text size="xs" c="dimmed">
                    {d.revokedAt === undefined
                      ? t('devices.revoked')
                      : t('devices.revokedAt', { when: formatDate(d.revokedAt) })}
                  </Text>
                </div>
                <Badge color="gray" variant="outline">
                  {t('devices.revoked')}
                </Badge>
              </Group>
            ))}
          </Stack>
        )}
        {error !== null && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
      </Stack>
      <AddDeviceModal opened={adding} initialCode={linkCode} onClose={closeAdding} />
      {renaming !== null && <RenameModal device={renaming} onClose={() => setRenaming(null)} />}
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title={t('devices.revokeTitle')}
      >
        <Stack>
          <Text>{t('devices.revokeExplain', { name: revoking?.name ?? '' })}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" loading={busy} onClick={() => void revoke()}>
              {t('devices.revokeConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

/** The rename dialog: the name as it is, to change; kept as typed when the server refuses. */
function RenameModal(props: { readonly device: ListedDevice; readonly onClose: () => void }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [name, setName] = useState(props.device.name ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.devices.rename(props.device.deviceId, name);
      props.onClose();
    } catch (e) {
      setError(
        isHaleError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT')
          ? t('devices.renameOffline')
          : isHaleError(e)
            ? haleErrorText(t, e)
            : String(e),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      closeButtonProps={{ 'aria-label': t('common.close') }}
      opened
      onClose={props.onClose}
      title={t('devices.renameTitle')}
    >
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Stack>
          <TextInput
            label={t('devices.renameLabel')}
            description={t('devices.renameHint')}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            maxLength={100}
            required
            data-autofocus
            error={error ?? undefined}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={busy} disabled={name.trim() === ''}>
              {t('devices.renameSave')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
