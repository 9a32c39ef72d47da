/**
 * One grant given, as the sharing screen lists it: the clinician, what each record kind allows, until when,
 * why; its state in words; revoking it (after the statement of what revocation can and cannot do), and,
 * after a revocation, how far it got: access cut on the server, then the records re-keyed. A grant in force
 * can be changed (change-share-screen.tsx); one a change replaced says when.
 */
import { useState, type ReactNode } from 'react';
import { Badge, Button, Group, Loader, Paper, Stack, Text, ThemeIcon } from '@mantine/core';
import { IconCheck, IconClockHour4 } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { GrantState, GrantView } from '@hale/client';
import { formatDate } from '../../records/format';
import { dayjs } from '../../boot/dayjs';
import { usePersonName } from '../people';
import { streamLabel } from '../streams';
import { inForce } from './grant-state';
import { RevokeModal } from './revoke-modal';

export const STATE_COLOR: Record<GrantState, string> = {
  active: 'green',
  expiring: 'orange',
  'not-started': 'blue',
  'revocation-pending': 'orange',
  'rotation-in-progress': 'orange',
  revoked: 'gray',
  expired: 'gray',
  replaced: 'gray',
};

export function GrantCard(props: { readonly grant: GrantView }): ReactNode {
  const { t } = useTranslation();
  const g = props.grant;
  const name = usePersonName(g.grant.granteeId);
  const [asking, setAsking] = useState(false);
  const replaced = g.state === 'replaced';
  const ended = g.state === 'revoked' || g.state === 'expired' || g.state === 'rotation-in-progress';
  const revoked = !replaced && (g.revokedAt !== undefined || g.state === 'revocation-pending');
  // The form holds note signatures with notes: a grant of signatures alone (a co-signer's) is not changed here.
  const changeable =
    inForce(g) &&
    !g.grant.scope.some((s) => s.type === 'note-signature' && !g.grant.scope.some((x) => x.type === 'note'));

  return (
    <Paper withBorder p="md" data-testid="grant-card" data-state={g.state} data-grant-id={g.grant.grantId}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <div>
            <Text fw={650}>{name}</Text>
            {g.purpose !== null && g.purpose !== '' && (
              <Text size="sm" c="dimmed">
                {t('care.sharing.purposeIs', { purpose: g.purpose })}
              </Text>
            )}
          </div>
          <Badge color={STATE_COLOR[g.state]} variant="light" data-testid="grant-state">
            {t(`care.grantState.${g.state}`)}
          </Badge>
        </Group>
        <Group gap={6}>
          {g.grant.scope.map((s) => (
            <Badge key={s.type} variant="outline" color={s.access === 'write' ? 'hale' : 'gray'} tt="none">
              {streamLabel(t, s.type)} · {t(`care.access.${s.access}`)}
            </Badge>
          ))}
        </Group>
        <Text size="sm">
          {replaced
            ? t('care.sharing.replacedOn', { when: formatDate(g.revokedAt ?? g.grant.expiresAt) })
            : g.state === 'not-started' && g.grant.start !== undefined
              ? t('care.sharing.startsOn', { when: formatDate(g.grant.start) })
              : ended || revoked
                ? g.revokedAt !== undefined
                  ? t('care.sharing.revokedOn', { when: formatDate(g.revokedAt) })
                  : g.state === 'revocation-pending'
                    ? t('care.sharing.revokedHere')
                    : t('care.sharing.expiredOn', { when: formatDate(g.grant.expiresAt) })
                : t('care.sharing.until', {
                    when: formatDate(g.grant.expiresAt),
                    relative: dayjs(g.grant.expiresAt).fromNow(),
                  })}
        </Text>
        {(revoked || ended) && <RevocationProgress grant={g} />}
        {inForce(g) && (
          <Group>
            {changeable && (
              <Button
                component={Link}
                to={`/care/sharing/${encodeURIComponent(g.grant.grantId)}/change`}
                variant="light"
                size="sm"
                aria-label={t('care.sharing.changeNamed', { name })}
              >
                {t('care.sharing.changeGrant')}
              </Button>
            )}
            <Button
              color="red"
              variant="light"
              size="sm"
              onClick={() => setAsking(true)}
              aria-label={t('care.sharing.revokeNamed', { name })}
            >
              {t('care.sharing.revoke')}
            </Button>
          </Group>
        )}
      </Stack>
      <RevokeModal
        opened={asking}
        name={name}
        grantIds={[g.grant.grantId]}
        onClose={() => setAsking(false)}
      />
    </Paper>
  );
}

/** Two steps after a revocation (or an expiry): the server cut access; the records were re-keyed. */
function RevocationProgress(props: { readonly grant: GrantView }): ReactNode {
  const { t } = useTranslation();
  const s = props.grant.state;
  const cut = s !== 'revocation-pending';
  const rekeyed = s === 'revoked' || s === 'expired';
  const step = (done: boolean, working: boolean, label: string, testId: string): ReactNode => (
    <Group gap="xs" wrap="nowrap" data-testid={testId} data-done={done}>
      {done ? (
        <ThemeIcon color="green" size={22} radius="xl" aria-hidden>
          <IconCheck size={14} />
        </ThemeIcon>
      ) : working ? (
        <Loader size={18} aria-hidden />
      ) : (
        <ThemeIcon color="gray" variant="light" size={22} radius="xl" aria-hidden>
          <IconClockHour4 size={14} />
        </ThemeIcon>
      )}
      <Text size="sm">{label}</Text>
    </Group>
  );
  return (
    <Stack gap={6} aria-live="polite">
      {step(cut, !cut, cut ? t('care.sharing.stepCut') : t('care.sharing.stepCutPending'), 'step-cut')}
      {step(
        rekeyed,
        cut && !rekeyed,
        rekeyed ? t('care.sharing.stepRekeyed') : t('care.sharing.stepRekeying'),
        'step-rekeyed',
      )}
    </Stack>
  );
}
