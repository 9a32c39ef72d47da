/**
 * The patient's links (shared summaries, or the emergency card's), from the server's record of them: what
 * each carries, whether it still opens, how often it was opened, each access (when, opened or a wrong
 * passcode or refused, the name the viewer gave), and revoking one (confirmed; it stops opening at once).
 * The list reloads when an access comes in while the app runs (access-feed.ts).
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { Badge, Button, Group, Modal, Paper, Skeleton, Stack, Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { formatDate } from '../../records/format';
import { ScrollTable } from '../../ui/scroll-table';
import { useAccessFeed } from './access-feed';
import { FailureAlert } from './failure-alert';
import { ioFailure, type IoFailure } from './io-errors';
import { contentsOf, linkStatus, type LinkAccessInfo, type LinkInfo, type LinkStatus } from './link-status';
import { useHaleSession } from '@hale/react';

const STATUS_COLOR: Record<LinkStatus, string> = {
  active: 'teal',
  expired: 'gray',
  revoked: 'gray',
  locked: 'red',
  used: 'gray',
};

function StatusBadge(props: { readonly status: LinkStatus }): ReactNode {
  const { t } = useTranslation();
  const label =
    props.status === 'active'
      ? t('share.status.active')
      : props.status === 'expired'
        ? t('share.status.expired')
        : props.status === 'revoked'
          ? t('share.status.revoked')
          : props.status === 'used'
            ? t('share.status.used')
            : t('share.status.locked');
  return (
    <Badge color={STATUS_COLOR[props.status]} variant="light" data-testid="link-status">
      {label}
    </Badge>
  );
}

function Accesses(props: { readonly linkId: string; readonly version: number }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [accesses, setAccesses] = useState<readonly LinkAccessInfo[] | null>(null);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  useEffect(() => {
    let live = true;
    session.io.linkAccesses(props.linkId).then(
      (a) => live && setAccesses(a),
      (e: unknown) => live && setFailure(ioFailure(t, e)),
    );
    return () => {
      live = false;
    };
  }, [session, props.linkId, props.version, t]);
  if (failure !== null) return <FailureAlert failure={failure} title={t('share.accessesFailed')} />;
  if (accesses === null) return <Skeleton height={60} />;
  if (accesses.length === 0) return <Text size="sm">{t('share.noAccesses')}</Text>;
  const outcome = (o: LinkAccessInfo['outcome']): string =>
    o === 'opened'
      ? t('share.outcome.opened')
      : o === 'wrong-passcode'
        ? t('share.outcome.wrong')
        : t('share.outcome.refused');
  return (
    <ScrollTable label={t('share.accesses')} minWidth={420}>
      <Table verticalSpacing={4} striped data-testid="link-accesses">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('share.when')}</Table.Th>
            <Table.Th>{t('share.what')}</Table.Th>
            <Table.Th>{t('share.who')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {[...accesses].reverse().map((a, i) => (
            <Table.Tr key={`${a.at}-${i}`}>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDate(a.at)}</Table.Td>
              <Table.Td>
                <Badge
                  variant="light"
                  color={a.outcome === 'opened' ? 'blue' : a.outcome === 'wrong-passcode' ? 'orange' : 'gray'}
                >
                  {outcome(a.outcome)}
                </Badge>
              </Table.Td>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>{a.recipient}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollTable>
  );
}

function LinkRow(props: {
  readonly link: LinkInfo;
  readonly version: number;
  readonly onRevoke: (link: LinkInfo) => void;
}): ReactNode {
  const { t } = useTranslation();
  const { link } = props;
  const [open, setOpen] = useState(false);
  const status = linkStatus(link, Date.now());
  const title = link.label ?? (link.emergency ? t('emergencyLink.label') : t('share.untitled'));
  return (
    <Paper withBorder p="md" data-testid="link-row">
      <Stack gap={6}>
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Group gap="xs">
            <Text fw={700}>{title}</Text>
            <StatusBadge status={status} />
            {link.passcode && (
              <Badge variant="outline" color="gray">
                {t('share.withPasscode')}
              </Badge>
            )}
            {link.oneTime === true && (
              <Badge variant="outline" color="gray">
                {t('share.oneTimeBadge')}
              </Badge>
            )}
          </Group>
          <Group gap="xs">
            <Button size="xs" variant="default" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
              {open ? t('share.hideAccesses') : t('share.showAccesses', { count: link.accessCount })}
            </Button>
            {status === 'active' && (
              <Button size="xs" color="red" variant="light" onClick={() => props.onRevoke(link)}>
                {t('share.revoke')}
              </Button>
            )}
          </Group>
        </Group>
        <Text size="sm" c="dimmed">
          {[
            t('share.created', { when: formatDate(link.createdAt) }),
            link.revokedAt !== undefined
              ? t('share.revokedAt', { when: formatDate(link.revokedAt) })
              : link.expiresAt === undefined
                ? t('share.noExpiry')
                : t('share.expires', { when: formatDate(link.expiresAt) }),
            link.lastAccessAt === undefined
              ? t('share.neverOpened')
              : t('share.lastOpened', { when: formatDate(link.lastAccessAt) }),
            ...(link.passcode ? [t('share.triesLeft', { count: link.attemptsLeft })] : []),
          ].join(' · ')}
        </Text>
        <Group gap={6}>
          {contentsOf(link).map((c) => (
            <Badge key={c.slug} variant="light" color="gray" tt="none">
              {t(`kinds.${c.slug}.title`)} {c.count}
            </Badge>
          ))}
        </Group>
        {open && <Accesses linkId={link.linkId} version={props.version} />}
      </Stack>
    </Paper>
  );
}

/** The links of one sort (`emergency`: the emergency card's; else shared summaries), newest first. */
export function LinkList(props: { readonly emergency: boolean; readonly reload?: number }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const feed = useAccessFeed(session);
  const [links, setLinks] = useState<readonly LinkInfo[] | null>(null);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  const [revoking, setRevoking] = useState<LinkInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const [own, setOwn] = useState(0);
  const load = useCallback(async () => {
    try {
      const all = await session.io.links();
      setLinks(
        all
          .filter((l) => l.emergency === props.emergency)
          .toSorted((a, b) => b.createdAt.localeCompare(a.createdAt)),
      );
      setFailure(null);
    } catch (e) {
      setFailure(ioFailure(t, e));
    }
  }, [session, props.emergency, t]);
  const version = feed.accesses.length + own + (props.reload ?? 0);
  useEffect(() => {
    void load();
  }, [load, version]);

  const revoke = async (): Promise<void> => {
    if (revoking === null) return;
    setBusy(true);
    try {
      await session.io.revokeLink(revoking.linkId);
      setRevoking(null);
      setOwn((n) => n + 1);
    } catch (e) {
      setFailure(ioFailure(t, e));
      setRevoking(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="sm" data-testid={props.emergency ? 'emergency-links' : 'shared-links'}>
      {failure !== null && <FailureAlert failure={failure} title={t('share.listFailed')} />}
      {links === null && failure === null && <Skeleton height={80} />}
      {links !== null && links.length === 0 && (
        <Text c="dimmed" size="sm">
          {props.emergency ? t('emergencyLink.none') : t('share.none')}
        </Text>
      )}
      {links?.map((link) => (
        <LinkRow key={link.linkId} link={link} version={version} onRevoke={setRevoking} />
      ))}
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title={t('share.revokeTitle')}
      >
        <Stack>
          <Text>{t('share.revokeExplain', { label: revoking?.label ?? t('share.untitled') })}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" loading={busy} onClick={() => void revoke()}>
              {t('share.revokeConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
