/**
 * Change a grant (`/care/sharing/:grantId/change`): its kinds, access and end as a form (the share's
 * ScopeStep, its end kept unless another is chosen), then a review saying what changes in words — kinds
 * added, kinds no longer shared (re-keyed at once), access changed, the new end — then `consent.change`,
 * which replaces the grant by a new signed one.
 *
 * Invariants: nothing changes before the review's button; a grant no longer in force (ended, revoked, or
 * changed on another device) says so and changes nothing; a refused change is said in words at the review,
 * the choices kept.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Anchor, Button, Group, List, Loader, Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import type { GrantView } from '@hale/client';
import type { StreamType } from '@hale/model';
import { useGrants, useGrantsLoaded, useHaleSession } from '@hale/react';
import { formatDate } from '../../records/format';
import { tell } from '../../ui/notice';
import { PageHeader } from '../../ui/page-header';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { streamLabel } from '../streams';
import { inForce } from './grant-state';
import { ScopeStep } from './scope-step';
import { diffOf, endsAt, formOfGrant, grantChangeOf, sameGrant, scopeOf, type ShareForm } from './scope';
import { SharePreview } from './share-preview';

export function ChangeShareScreen(): ReactNode {
  const { t } = useTranslation();
  const { grantId } = useParams();
  const grants = useGrants();
  const loaded = useGrantsLoaded();
  const grant = grants.find((g) => g.grant.grantId === grantId);
  const [form, setForm] = useState<ShareForm | null>(null);
  const [step, setStep] = useState(0);
  const header = <PageHeader title={t('care.change.title')} back="/care/sharing" />;
  if (grant === undefined) {
    return (
      <Stack maw={880}>
        {header}
        {loaded ? <Gone /> : <Loader aria-label={t('care.change.loading')} />}
      </Stack>
    );
  }
  // Changed or ended meanwhile (here or on another device) while the form was open: nothing to change.
  if (!inForce(grant)) {
    return (
      <Stack maw={880}>
        {header}
        <Gone />
      </Stack>
    );
  }
  const current = form ?? formOfGrant(grant);
  return (
    <Stack maw={880}>
      {header}
      {step === 0 ? (
        <ScopeStep
          accountId={grant.grant.granteeId}
          form={current}
          onChange={setForm}
          onNext={() => setStep(1)}
          change
        />
      ) : (
        <ChangeReview grant={grant} form={current} onEdit={() => setStep(0)} />
      )}
    </Stack>
  );
}

function Gone(): ReactNode {
  const { t } = useTranslation();
  return (
    <Alert color="orange" title={t('care.change.goneTitle')} data-testid="change-gone">
      <Text size="sm">{t('care.change.gone')}</Text>
      <Anchor component={Link} to="/care/sharing" size="sm">
        {t('care.change.backToSharing')}
      </Anchor>
    </Alert>
  );
}

function ChangeReview(props: {
  readonly grant: GrantView;
  readonly form: ShareForm;
  readonly onEdit: () => void;
}): ReactNode {
  const { t, i18n } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const g = props.grant;
  const name = usePersonName(g.grant.granteeId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const scope = scopeOf(props.form);
  const end = endsAt(props.form, Date.now());
  const diff = diffOf(g.grant.scope, Date.parse(g.grant.expiresAt), scope, end);
  const purposeChanged = props.form.purpose.trim() !== (g.purpose ?? '');
  const nothing = sameGrant(diff) && !purposeChanged;
  const list = new Intl.ListFormat(i18n.language, { type: 'conjunction' });
  const kinds = (types: readonly StreamType[]): string => list.format(types.map((k) => streamLabel(t, k)));
  const when = (ms: number): string => formatDate(new Date(ms).toISOString());
  const lines: Array<{ key: string; text: string }> = [
    ...(diff.added.length > 0
      ? [{ key: 'added', text: t('care.change.added', { kinds: kinds(diff.added) }) }]
      : []),
    ...(diff.removed.length > 0
      ? [{ key: 'removed', text: t('care.change.removed', { kinds: kinds(diff.removed) }) }]
      : []),
    ...(diff.toWrite.length > 0
      ? [{ key: 'to-write', text: t('care.change.toWrite', { kinds: kinds(diff.toWrite) }) }]
      : []),
    ...(diff.toRead.length > 0
      ? [{ key: 'to-read', text: t('care.change.toRead', { kinds: kinds(diff.toRead) }) }]
      : []),
    ...(diff.end !== null
      ? [
          {
            key: 'end',
            text: t(diff.end.to < diff.end.from ? 'care.change.shorter' : 'care.change.longer', {
              from: when(diff.end.from),
              to: when(diff.end.to),
            }),
          },
        ]
      : []),
    ...(purposeChanged
      ? [{ key: 'purpose', text: t('care.sharing.purposeIs', { purpose: props.form.purpose.trim() }) }]
      : []),
  ];

  const confirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.consent.change(g.grant.grantId, grantChangeOf(props.form));
      tell({ color: 'green', message: t('care.change.done', { name }) });
      void navigate('/care/sharing');
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack gap="sm">
          <Text fw={650}>{t('care.change.reviewWith', { name })}</Text>
          {nothing ? (
            <Text size="sm" data-testid="change-nothing">
              {t('care.change.nothing')}
            </Text>
          ) : (
            <List size="sm" spacing={4} data-testid="change-lines">
              {lines.map((l) => (
                <List.Item key={l.key} data-testid={`change-${l.key}`}>
                  {l.text}
                </List.Item>
              ))}
            </List>
          )}
          {diff.removed.length > 0 && (
            <Text size="sm" c="dimmed">
              {t('care.change.removedNote', { name })}
            </Text>
          )}
          <SharePreview name={name} scope={scope} end={end} />
          <Text size="sm" c="dimmed">
            {t('care.change.reviewNote', { name })}
          </Text>
        </Stack>
      </Paper>
      {error !== null && (
        <Alert color="red" role="alert" title={t('care.change.refused')}>
          {error}
        </Alert>
      )}
      <Group>
        <Button loading={busy} disabled={nothing} onClick={() => void confirm()}>
          {t('care.change.confirm')}
        </Button>
        <Button variant="default" onClick={props.onEdit}>
          {t('care.change.edit')}
        </Button>
      </Group>
    </Stack>
  );
}
