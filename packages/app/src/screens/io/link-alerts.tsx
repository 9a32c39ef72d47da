/**
 * The live alert when someone opens one of the patient's links while the app runs: the layout mounts this
 * once per open session. It follows `io.watchLinkAccess` (the server holds each request until an access
 * comes), names the link from `io.links()`, puts each access in the session's feed (access-feed.ts), shows
 * it in the app as a banner until dismissed, and as a notification of the device (the desktop shell's, or
 * the browser's when the person allowed it).
 *
 * Failure modes: offline or the server unreachable → the library retries; nothing is shown meanwhile (an
 * access is logged by the server regardless, and the links screens list it).
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { Alert, Anchor, Button, Group, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { TFunction } from 'i18next';
import type { HaleSession } from '@hale/client';
import { formatDate } from '../../records/format';
import { notifyDevice } from '../../ui/desktop-bridge';
import { accessFeedOf, useAccessFeed, type FeedAccess } from './access-feed';
import { useHaleSession } from '@hale/react';

/** The sentence telling one access (banner and device notification). */
export const accessText = (t: TFunction, a: FeedAccess): { title: string; body: string } => {
  const when = formatDate(a.at);
  const who = a.recipient;
  const label = a.label ?? t('share.untitled');
  if (a.emergency) {
    switch (a.outcome) {
      case 'opened':
        return { title: t('alerts.emergencyOpenedTitle'), body: t('alerts.emergencyOpened', { who, when }) };
      default:
        return { title: t('alerts.emergencyOldTitle'), body: t('alerts.emergencyOld', { who, when }) };
    }
  }
  switch (a.outcome) {
    case 'opened':
      return { title: t('alerts.linkOpenedTitle'), body: t('alerts.linkOpened', { label, who, when }) };
    case 'wrong-passcode':
      return { title: t('alerts.wrongPasscodeTitle'), body: t('alerts.wrongPasscode', { label, who, when }) };
    case 'refused':
      return { title: t('alerts.refusedTitle'), body: t('alerts.refused', { label, who, when }) };
  }
};

const watch = (session: HaleSession, tr: { readonly current: TFunction }): (() => void) => {
  const feed = accessFeedOf(session);
  const known = new Map<string, { label: string | undefined; emergency: boolean }>();
  const refresh = async (): Promise<void> => {
    for (const link of await session.io.links())
      known.set(link.linkId, { label: link.label, emergency: link.emergency });
  };
  let stopped = false;
  const stop = session.io.watchLinkAccess(
    (access) => {
      void (async () => {
        if (!known.has(access.linkId)) await refresh().catch(() => undefined);
        if (stopped) return;
        const link = known.get(access.linkId);
        const item: FeedAccess = {
          key: `${access.linkId}|${access.at}|${access.outcome}|${access.recipient}`,
          linkId: access.linkId,
          at: access.at,
          outcome: access.outcome,
          recipient: access.recipient,
          label: link?.label,
          emergency: link?.emergency ?? false,
          seen: false,
        };
        feed.add(item);
        const { title, body } = accessText(tr.current, item);
        await notifyDevice(title, body).catch(() => undefined);
      })();
    },
    { onReady: () => feed.ready(true) },
  );
  void refresh().catch(() => undefined);
  return () => {
    stopped = true;
    feed.ready(false);
    stop();
  };
};

export function LinkAlerts(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const feed = useAccessFeed(session);
  // The language may change while the watch runs: it reads the current one.
  const tr = useRef(t);
  tr.current = t;
  useEffect(() => watch(session, tr), [session]);
  const unseen = feed.accesses.filter((a) => !a.seen);
  return (
    <Stack gap="xs" mb={unseen.length > 0 ? 'md' : 0} aria-live="polite" className="hale-no-print">
      <span hidden data-testid="link-watch" data-ready={feed.ready ? 'true' : 'false'} />
      {unseen.slice(0, 3).map((a) => {
        const { title, body } = accessText(t, a);
        return (
          <Alert
            key={a.key}
            color={a.emergency ? 'red' : a.outcome === 'opened' ? 'blue' : 'orange'}
            title={title}
            data-testid="link-access-alert"
            withCloseButton
            closeButtonLabel={t('alerts.dismiss')}
            onClose={() => accessFeedOf(session).markSeen([a.key])}
          >
            <Stack gap={6}>
              <Text size="sm">{body}</Text>
              <Group gap="sm">
                <Anchor component={Link} to={a.emergency ? '/emergency' : '/records/share'} size="sm">
                  {a.emergency ? t('alerts.seeCard') : t('alerts.seeLinks')}
                </Anchor>
              </Group>
            </Stack>
          </Alert>
        );
      })}
      {unseen.length > 3 && (
        <Group>
          <Text size="sm">{t('alerts.more', { count: unseen.length - 3 })}</Text>
          <Button size="xs" variant="subtle" onClick={() => accessFeedOf(session).markSeen()}>
            {t('alerts.dismissAll')}
          </Button>
        </Group>
      )}
    </Stack>
  );
}
