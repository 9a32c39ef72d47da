/**
 * One treatment plan (`/care/plans/:id`): the current version (summary, details, status, effective
 * window, who wrote it and why); the patient's acknowledgement of the current version (or a button to
 * give it, or word that a newer version needs it); what changed between any two versions; every version.
 *
 * Failure modes: an acknowledgement refused (a draft, not this patient's, offline is not one: it is written
 * here and synced) is said in words.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, NativeSelect, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import type { PlanView } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { ScrollTable } from '../../ui/scroll-table';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { planFieldLabel, planValue } from './plan-words';
import { PlanAims } from './plan-aims';

export function PlanScreen(): ReactNode {
  const { t } = useTranslation();
  const { id = '' } = useParams();
  const session = useHaleSession();
  const list = useObserved(session.care.plans.list);
  const plan = list.find((p) => p.record.id === id);
  if (plan === undefined) {
    return (
      <Stack>
        <PageHeader title={t('care.plans.one')} back="/care/plans" />
        <Text c="dimmed">{t('care.plans.notHere')}</Text>
      </Stack>
    );
  }
  return <Plan key={id} plan={plan} />;
}

function Plan(props: { readonly plan: PlanView }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const p = props.plan.record;
  const author = usePersonName(p.provenance.by);
  const patient = p.patientId === session.account.accountId;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ack = props.plan.acknowledgement;

  const acknowledge = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.care.plans.acknowledge(p.id);
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={880}>
      <PageHeader title={p.summary} back="/care/plans" />
      <Group gap="xs">
        <Badge variant="light" color={p.status === 'active' ? 'green' : 'gray'}>
          {t(`enum.planStatus.${p.status}`)}
        </Badge>
        <Text size="sm" c="dimmed">
          {t('care.plans.versionBy', { version: p.version, name: author, when: formatDate(p.provenance.at) })}
        </Text>
      </Group>
      {props.plan.toAcknowledge && patient && (
        <Alert color="blue" title={t('plans.ackTitle')} data-testid="ack-needed">
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('plans.ackExplain', { version: p.version })}</Text>
            {ack !== null && !ack.current && (
              <Text size="sm">
                {t('care.plans.ackedEarlier', { version: ack.version, when: formatDate(ack.at) })}
              </Text>
            )}
            <Button loading={busy} onClick={() => void acknowledge()}>
              {t('care.plans.acknowledge', { version: p.version })}
            </Button>
          </Stack>
        </Alert>
      )}
      {props.plan.toAcknowledge && !patient && (
        <Alert color="yellow">{t('care.plans.notAcknowledged', { version: p.version })}</Alert>
      )}
      {ack?.current === true && (
        <Alert color="green" data-testid="ack-current">
          {patient
            ? t('care.plans.youAcknowledged', { version: ack.version, when: formatDate(ack.at) })
            : t('care.plans.patientAcknowledged', { version: ack.version, when: formatDate(ack.at) })}
        </Alert>
      )}
      {error !== null && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Paper withBorder p="md">
        <Stack gap="xs">
          {p.details !== undefined && <Text style={{ whiteSpace: 'pre-wrap' }}>{p.details}</Text>}
          {(p.effectiveFrom !== undefined || p.effectiveTo !== undefined) && (
            <Text size="sm" c="dimmed">
              {t('care.plans.effective', {
                from: p.effectiveFrom === undefined ? '—' : formatDate(p.effectiveFrom),
                to: p.effectiveTo === undefined ? '—' : formatDate(p.effectiveTo),
              })}
            </Text>
          )}
          <PlanAims plan={p} />
          {p.provenance.reason !== undefined && (
            <Text size="sm">{t('care.plans.why', { reason: p.provenance.reason })}</Text>
          )}
        </Stack>
      </Paper>
      {p.version > 1 && <Changes plan={props.plan} />}
      <Versions plan={props.plan} />
    </Stack>
  );
}

function Changes(props: { readonly plan: PlanView }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const p = props.plan.record;
  const versions = [...p.versions.map((v) => v.version), p.version];
  const [from, setFrom] = useState(p.version - 1);
  const [to, setTo] = useState(p.version);
  const diff = useMemo(() => {
    try {
      return from < to ? session.care.plans.diff(p, from, to) : null;
    } catch {
      return null;
    }
  }, [session, p, from, to]);
  const by = usePersonName(diff?.by);
  const fieldLabel = (f: string): string => planFieldLabel(t, f);
  const value = (f: string, v: string | undefined): string => planValue(t, f, v);
  return (
    <Stack gap="xs" component="section" aria-labelledby="plan-changes">
      <Title order={2} size="h4" id="plan-changes">
        {t('care.plans.changes')}
      </Title>
      <Group>
        <NativeSelect
          label={t('care.plans.from')}
          value={String(from)}
          onChange={(e) => setFrom(Number(e.currentTarget.value))}
          data={versions
            .slice(0, -1)
            .map((v) => ({ value: String(v), label: t('care.plans.versionN', { n: v }) }))}
        />
        <NativeSelect
          label={t('care.plans.to')}
          value={String(to)}
          onChange={(e) => setTo(Number(e.currentTarget.value))}
          data={versions
            .slice(1)
            .map((v) => ({ value: String(v), label: t('care.plans.versionN', { n: v }) }))}
        />
      </Group>
      {diff === null ? (
        <Text size="sm" c="dimmed">
          {t('care.plans.pickOrder')}
        </Text>
      ) : (
        <Paper withBorder>
          <Text size="sm" px="md" pt="sm">
            {diff.reason === undefined
              ? t('care.plans.changedBy', { name: by, when: formatDate(diff.at) })
              : t('care.plans.changedByWhy', { name: by, when: formatDate(diff.at), reason: diff.reason })}
          </Text>
          {diff.changes.length === 0 ? (
            <Text size="sm" c="dimmed" p="md">
              {t('care.plans.noChange')}
            </Text>
          ) : (
            <ScrollTable label={t('care.plans.changes')} minWidth={560}>
              <Table data-testid="plan-diff">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('care.plans.what')}</Table.Th>
                    <Table.Th>{t('care.plans.before')}</Table.Th>
                    <Table.Th>{t('care.plans.after')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {diff.changes.map((c) => (
                    <Table.Tr key={c.field} data-field={c.field}>
                      <Table.Td fw={600}>{fieldLabel(c.field)}</Table.Td>
                      <Table.Td>
                        <Text size="sm" td="line-through" c="red" style={{ whiteSpace: 'pre-wrap' }}>
                          {value(c.field, c.before)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" fw={600} style={{ whiteSpace: 'pre-wrap' }}>
                          {value(c.field, c.after)}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </ScrollTable>
          )}
        </Paper>
      )}
    </Stack>
  );
}

function Versions(props: { readonly plan: PlanView }): ReactNode {
  const { t } = useTranslation();
  const p = props.plan.record;
  const all = [
    { version: p.version, provenance: p.provenance, status: p.status },
    ...[...p.versions].reverse(),
  ];
  return (
    <Stack gap="xs" component="section" aria-labelledby="plan-versions">
      <Title order={2} size="h4" id="plan-versions">
        {t('care.plans.versions')}
      </Title>
      <Paper withBorder>
        {all.map((v) => (
          <VersionLine
            key={v.version}
            version={v.version}
            by={v.provenance.by}
            at={v.provenance.at}
            reason={v.provenance.reason}
            current={v.version === p.version}
          />
        ))}
      </Paper>
    </Stack>
  );
}

function VersionLine(props: {
  readonly version: number;
  readonly by: string;
  readonly at: string;
  readonly reason: string | undefined;
  readonly current: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const name = usePersonName(props.by);
  return (
    <Group
      justify="space-between"
      px="md"
      py="xs"
      wrap="wrap"
      style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}
    >
      <div>
        <Title order={3} fz="sm" fw={600}>
          {t('care.plans.versionN', { n: props.version })}
          {props.current && ` · ${t('care.plans.current')}`}
        </Title>
        <Text size="xs" c="dimmed">
          {props.reason === undefined
            ? t('care.plans.changedBy', { name, when: formatDate(props.at) })
            : t('care.plans.changedByWhy', { name, when: formatDate(props.at), reason: props.reason })}
        </Text>
      </div>
    </Group>
  );
}
