/**
 * The emergency card's QR (a SMART Health Link to the emergency subset: blood type, allergies,
 * medications, conditions, emergency contacts) with no passcode, every opening recorded and told live on
 * the patient's devices (LinkAlerts). The link's text is never stored (its key opens the content), so a
 * QR made is held for this open session only (a WeakMap by session: locking forgets it); after that the
 * card that was printed or saved is where it lives, and showing a QR again means making a new one, which
 * stops the old one (`io.rotateEmergencyCard` revokes every earlier card).
 *
 * | state | shows |
 * |---|---|
 * | no card QR | what it trades away, and a button to make one |
 * | made in this session | the QR in the printed card (`EmergencyQr`), its address, the accesses |
 * | in use, made earlier | since when, how often opened; a new one (the old stops working, said first) |
 * | server unreachable | that the card itself works offline; the QR needs a connection |
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Group, List, Modal, Paper, Stack, Text, Title } from '@mantine/core';
import { IconBellRinging, IconQrcode, IconRefresh } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import type { CreatedLink, HaleSession } from '@hale/client';
import { formatDate } from '../../records/format';
import { deviceNotifications } from '../../ui/desktop-bridge';
import { QrCode } from '../../ui/qr-code';
import { useAccessFeed } from '../io/access-feed';
import { FailureAlert } from '../io/failure-alert';
import { ioFailure, type IoFailure } from '../io/io-errors';
import { LinkList } from '../io/link-list';
import { LinkQr } from '../io/link-qr';
import { linkStatus, type LinkInfo } from '../io/link-status';
import { useHaleSession } from '@hale/react';

const held = new WeakMap<HaleSession, CreatedLink>();

/** The card QR made in this session, and the server's record of the card in use. */
export function useEmergencyLink(): {
  readonly created: CreatedLink | undefined;
  readonly active: LinkInfo | undefined;
  readonly loaded: boolean;
  readonly failure: IoFailure | null;
  readonly busy: boolean;
  readonly make: () => Promise<void>;
} {
  const { t } = useTranslation();
  const session = useHaleSession();
  const feed = useAccessFeed(session);
  const [created, setCreated] = useState<CreatedLink | undefined>(() => held.get(session));
  const [active, setActive] = useState<LinkInfo | undefined>(undefined);
  const [loaded, setLoaded] = useState(false);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      const links = await session.io.links();
      const now = Date.now();
      const live = links
        .filter((l) => l.emergency && linkStatus(l, now) === 'active')
        .toSorted((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      setActive(live);
      // A QR held here that the server no longer opens (rotated on another device) is not shown.
      if (held.get(session) !== undefined && held.get(session)?.linkId !== live?.linkId) {
        held.delete(session);
        setCreated(undefined);
      }
      setFailure(null);
    } catch (e) {
      setFailure(ioFailure(t, e));
    } finally {
      setLoaded(true);
    }
  }, [session, t]);
  useEffect(() => {
    void load();
  }, [load, feed.accesses.length]);
  const make = async (): Promise<void> => {
    setBusy(true);
    setFailure(null);
    try {
      const link = await session.io.rotateEmergencyCard(t('emergencyLink.label'));
      held.set(session, link);
      setCreated(link);
      await load();
    } catch (e) {
      setFailure(ioFailure(t, e));
    } finally {
      setBusy(false);
    }
  };
  return { created, active, loaded, failure, busy, make };
}

/** The QR printed on the card, with what it is for (also in the card's second language, `also`). */
export function EmergencyQr(props: {
  readonly link: CreatedLink;
  readonly also?: { readonly t: TFunction; readonly lang: string };
}): ReactNode {
  const { t } = useTranslation();
  const { also } = props;
  return (
    <Group gap="sm" wrap="nowrap" align="center" data-testid="emergency-qr-on-card">
      <QrCode
        text={props.link.viewerUrl}
        label={t('emergencyLink.qrLabel')}
        size={132}
        testId="emergency-qr"
      />
      {[t, ...(also === undefined ? [] : [also.t])].map((say, i) => (
        <Stack gap={2} key={i} lang={i === 0 ? undefined : also?.lang}>
          <Text fw={700} size="sm">
            {say('emergencyLink.scan')}
          </Text>
          <Text size="xs" c="dimmed">
            {say('emergencyLink.scanHint')}
          </Text>
        </Stack>
      ))}
    </Group>
  );
}

function NotificationsOffer(): ReactNode {
  const { t } = useTranslation();
  const [state, setState] = useState(deviceNotifications);
  if (state !== 'ask') return null;
  return (
    <Button
      variant="light"
      w="fit-content"
      leftSection={<IconBellRinging size={18} />}
      onClick={() => void Notification.requestPermission().then(() => setState(deviceNotifications()))}
    >
      {t('emergencyLink.allowNotifications')}
    </Button>
  );
}

/** The QR's controls below the card (not printed): make, rotate, the address, the accesses. */
export function EmergencyLinkPanel(props: {
  readonly state: ReturnType<typeof useEmergencyLink>;
  /** The newest change to what the card shows, to tell when a QR made before it is out of date. */
  readonly latestChange: string | undefined;
}): ReactNode {
  const { t } = useTranslation();
  const { created, active, loaded, failure, busy, make } = props.state;
  const [confirm, setConfirm] = useState(false);
  const stale =
    active !== undefined && props.latestChange !== undefined && props.latestChange > active.createdAt;
  return (
    <Paper withBorder p="md" className="hale-no-print" data-testid="emergency-link-panel">
      <Stack>
        <Title order={2} size="h4">
          {t('emergencyLink.title')}
        </Title>
        <Text size="sm">{t('emergencyLink.what')}</Text>
        <List size="sm" spacing={4}>
          <List.Item>{t('emergencyLink.tradeNoPasscode')}</List.Item>
          <List.Item>{t('emergencyLink.tradeRecorded')}</List.Item>
          <List.Item>{t('emergencyLink.tradeSnapshot')}</List.Item>
        </List>
        {failure !== null && (
          <FailureAlert
            failure={failure}
            title={t('emergencyLink.failedTitle')}
            testId="emergency-link-failed"
          />
        )}
        {loaded && failure === null && active === undefined && (
          <Button
            w="fit-content"
            leftSection={<IconQrcode size={18} />}
            loading={busy}
            onClick={() => void make()}
          >
            {t('emergencyLink.make')}
          </Button>
        )}
        {created !== undefined && active?.linkId === created.linkId && (
          <Stack gap="xs">
            <Text size="sm" fw={600}>
              {t('emergencyLink.madeNow')}
            </Text>
            <LinkQr
              url={created.viewerUrl}
              qrLabel={t('emergencyLink.qrLabel')}
              fileName="hale-emergency-card-qr.png"
              size={160}
            />
          </Stack>
        )}
        {active !== undefined && created?.linkId !== active.linkId && (
          <Alert color="blue" variant="light" data-testid="emergency-link-in-use">
            {t('emergencyLink.inUse', { when: formatDate(active.createdAt), count: active.accessCount })}
          </Alert>
        )}
        {stale && (
          <Alert color="orange" variant="light" data-testid="emergency-link-stale">
            {t('emergencyLink.stale', { when: formatDate(active.createdAt) })}
          </Alert>
        )}
        {active !== undefined && (
          <Button
            w="fit-content"
            color="red"
            variant="light"
            leftSection={<IconRefresh size={18} />}
            onClick={() => setConfirm(true)}
          >
            {t('emergencyLink.rotate')}
          </Button>
        )}
        <NotificationsOffer />
        <Title order={3} size="h5" mt="sm">
          {t('emergencyLink.history')}
        </Title>
        <LinkList emergency />
      </Stack>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={t('emergencyLink.rotateTitle')}
      >
        <Stack>
          <Text>{t('emergencyLink.rotateExplain')}</Text>
          <Text size="sm">{t('emergencyLink.rotateTrade')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              {t('common.cancel')}
            </Button>
            <Button
              color="red"
              loading={busy}
              onClick={() => {
                setConfirm(false);
                void make();
              }}
            >
              {t('emergencyLink.rotateConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}
