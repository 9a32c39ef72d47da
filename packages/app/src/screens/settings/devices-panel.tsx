/**
 * This account's devices: each active one (this one marked) with a way to revoke it, after a warning
 * of what that does; the revoked ones below. The server cuts a revoked device off at once. "Add a device"
 * pairs a new one (screens/pairing/add-device.tsx); `?pair=CODE` (a pairing link opened here) opens it.
 */
import { useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { Alert, Badge, Button, Group, Modal, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { isHaleError, type ListedDevice } from '@hale/client';
import { useDevices, useHaleSession } from '@hale/react';
import { formatDate, shortId } from '../../records/format';
import { AddDeviceModal } from '../pairing/add-device';

export function DevicesPanel(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const devices = useDevices();
  const [revoking, setRevoking] = useState<ListedDevice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [params, setParams] = useSearchParams();
  const linkCode = params.get('pair');
  const [adding, setAdding] = useState(linkCode !== null);
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
                {d.current ? (
                  <Badge variant="light">{t('devices.thisOne')}</Badge>
                ) : (
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
