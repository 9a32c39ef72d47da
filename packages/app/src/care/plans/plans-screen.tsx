/**
 * Treatment plans (`/care/plans`): the plans in this chart (a clinician: those it holds), those waiting for
 * the patient's acknowledgement first, then active, then the rest; each with its version and who wrote it.
 */
import { useMemo, type ReactNode } from 'react';
import { Badge, Group, Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { PlanView } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { usePersonName } from '../people';

const rank = (p: PlanView): number =>
  p.toAcknowledge ? 0 : p.record.status === 'active' ? 1 : p.record.status === 'draft' ? 2 : 3;

export function PlansScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const list = useObserved(session.care.plans.list);
  const plans = useMemo(
    () =>
      [...list].sort(
        (a, b) => rank(a) - rank(b) || (a.record.provenance.at < b.record.provenance.at ? 1 : -1),
      ),
    [list],
  );
  return (
    <Stack maw={880}>
      <PageHeader title={t('care.plans.title')} />
      <Text size="sm" c="dimmed">
        {t('care.plans.intro')}
      </Text>
      {plans.length === 0 ? (
        <Paper withBorder p="lg">
          <Text c="dimmed">{t('care.plans.none')}</Text>
        </Paper>
      ) : (
        <Paper withBorder>
          <ul
            role="list"
            aria-label={t('care.plans.title')}
            style={{ listStyle: 'none', margin: 0, padding: 0 }}
          >
            {plans.map((p) => (
              <PlanRow key={p.record.id} plan={p} />
            ))}
          </ul>
        </Paper>
      )}
    </Stack>
  );
}

function PlanRow(props: { readonly plan: PlanView }): ReactNode {
  const { t } = useTranslation();
  const p = props.plan;
  const author = usePersonName(p.record.authorId);
  return (
    <li data-testid="plan-row" style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}>
      <Link to={`/care/plans/${p.record.id}`} className="hale-row-link">
        <Group justify="space-between" wrap="nowrap" px="md" py="sm" mih={64}>
          <div style={{ minWidth: 0 }}>
            <Text fw={650} truncate>
              {p.record.summary}
            </Text>
            <Text size="sm" c="dimmed" truncate>
              {t('care.plans.versionBy', {
                version: p.record.version,
                name: author,
                when: formatDate(p.record.provenance.at),
              })}
            </Text>
          </div>
          <Group gap={6} wrap="nowrap">
            {p.toAcknowledge && (
              <Badge color="yellow" autoContrast data-testid="plan-to-acknowledge">
                {t('care.plans.toAcknowledge')}
              </Badge>
            )}
            <Badge variant="light" color={p.record.status === 'active' ? 'green' : 'gray'}>
              {t(`enum.planStatus.${p.record.status}`)}
            </Badge>
          </Group>
        </Group>
      </Link>
    </li>
  );
}
