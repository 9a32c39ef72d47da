/**
 * The visit in the patient's hands (`/visits/:id`, an encounter's id): what was found, what changed (results
 * with their move, medications started or stopped, the plan's changes), the next appointment, and a way to
 * ask the clinician about it — a message when Messages is shared with them, else a word saying it is not.
 * Made on this device from the encounter's records (visit.ts); each note names who signed and co-signed
 * it. Printable: the app's frame is hidden in print (app.css), the card kept whole (visit-summary.css).
 */
import type { ReactNode } from 'react';
import { Alert, Badge, Button, Divider, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconMessage, IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import type { RecordOf } from '@hale/client';
import { useGrants, useHaleSession, useRecord, useRecords } from '@hale/react';
import { formatDate } from '../../records/format';
import { labValueText } from '../../records/clinical';
import { PageHeader } from '../../ui/page-header';
import { PersonName, usePersonName } from '../../care/people';
import { clinicianRecipients } from '../../care/messages/recipients';
import { newMessagePath } from '../../care/messages/paths';
import { NoteSoap } from '../../workspace/notes/note-soap';
import { useCosignStatus } from '../../workspace/notes/cosign-status';
import { planFieldLabel, planValue } from '../../care/plans/plan-words';
import type { SignedNote } from '../../workspace/summary/visit-content';
import { visitOf, type PlanChange, type Visit } from './visit';
import { SummaryPart as Part } from '../../workspace/summary/summary-part';
import { TrendWords } from '../../workspace/labs/trend-words';
import '../../workspace/summary/visit-summary.css';

export function VisitScreen(): ReactNode {
  const { id } = useParams();
  return id === undefined ? null : <Loader key={id} id={id} />;
}

function Loader(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'Encounter'>(props.id);
  const records = {
    notes: useRecords('MedicalNote').items.map((r) => r.record),
    versions: useRecords('NoteVersion').items.map((r) => r.record),
    conditions: useRecords('Condition').items,
    labs: useRecords('LabResult').items,
    medications: useRecords('Medication').items,
    plans: useRecords('TreatmentPlan').items,
    appointments: useRecords('Appointment').items.map((r) => r.record),
  };
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <VisitCard visit={visitOf(stored, records)} />;
}

function None(props: { readonly children: ReactNode }): ReactNode {
  return (
    <Text size="sm" c="dimmed">
      {props.children}
    </Text>
  );
}

export function VisitCard(props: { readonly visit: Visit }): ReactNode {
  const { t } = useTranslation();
  const { visit: v } = props;
  const e = v.encounter;
  const clinician = usePersonName(v.clinicianId);
  const changed = v.started.length + v.stopped.length + v.plans.length + v.results.length > 0;
  return (
    <Stack maw={900}>
      <PageHeader
        title={t('visit.title', { date: formatDate(e.startedAt) })}
        back={`/chart/encounters/${e.id}`}
        actions={
          <Button
            className="hale-no-print"
            leftSection={<IconPrinter size={18} />}
            onClick={() => window.print()}
          >
            {t('visit.print')}
          </Button>
        }
      />
      <Paper withBorder p={{ base: 'md', sm: 'lg' }} className="hale-visit-summary" data-testid="visit-card">
        <Stack gap="md">
          <Group justify="space-between" align="flex-start" wrap="wrap">
            <div>
              <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                {t(`enum.encounterType.${e.type}`)}
              </Text>
              <Title order={2} size="h3">
                {e.reason ?? t('visit.noReason')}
              </Title>
              <Text size="sm">
                {[formatDate(e.startedAt), e.department ?? e.location].filter(Boolean).join(' · ')}
              </Text>
            </div>
            {v.clinicianId !== undefined && (
              <Text size="sm" fw={600} data-testid="visit-clinician">
                {t('visit.with', { name: clinician })}
              </Text>
            )}
          </Group>
          <Divider />
          <Part title={t('visit.found')} testId="visit-found">
            {v.notes.length === 0 && v.found.length === 0 && <None>{t('visit.noneFound')}</None>}
            {v.found.map((c) => (
              <Text key={c.id} size="sm">
                <b>{c.name}</b> · {t(`enum.conditionClinicalStatus.${c.clinicalStatus}`)}
              </Text>
            ))}
            {v.notes.map((n) => (
              <NoteBody key={n.note.id} signed={n} />
            ))}
          </Part>
          <Part title={t('visit.changed')} testId="visit-changed">
            {!changed && <None>{t('visit.noneChanged')}</None>}
            {v.results.length > 0 && <Results results={v.results} />}
            {v.started.map((m) => (
              <Text key={m.id} size="sm" data-testid="visit-started">
                <Badge color="teal" variant="light" mr={6}>
                  {t('visit.started')}
                </Badge>
                <b>{m.name}</b>
                {[m.dose, m.frequency].filter(Boolean).length > 0 &&
                  ` · ${[m.dose, m.frequency].filter(Boolean).join(', ')}`}
              </Text>
            ))}
            {v.stopped.map((m) => (
              <Text key={m.id} size="sm" data-testid="visit-stopped">
                <Badge color="gray" variant="light" mr={6}>
                  {t('visit.stopped')}
                </Badge>
                <b>{m.name}</b>
              </Text>
            ))}
            {v.plans.map((p) => (
              <PlanDiff key={p.plan.id} change={p} />
            ))}
          </Part>
          <Part title={t('visit.next')} testId="visit-next">
            {v.next === undefined ? (
              <None>{t('visit.noNext')}</None>
            ) : (
              <Text size="sm">
                <b>{formatDate(v.next.startAt)}</b> · <PersonName accountId={v.next.providerId} />
                {v.next.location !== undefined && ` · ${v.next.location}`}
                {v.next.status !== 'scheduled' && ` (${t(`enum.appointmentStatus.${v.next.status}`)})`}
              </Text>
            )}
          </Part>
          <Ask visit={v} clinician={clinician} />
          <Divider />
          <Text size="xs" c="dimmed">
            {t('visit.footer', { when: formatDate(new Date().toISOString()) })}
          </Text>
        </Stack>
      </Paper>
    </Stack>
  );
}

function Results(props: { readonly results: Visit['results'] }): ReactNode {
  const { t } = useTranslation();
  return (
    <Stack gap={2}>
      {props.results.map(({ lab, trend }) => (
        <Text key={lab.id} size="sm" data-testid="visit-result">
          <b>{lab.testName}</b> {labValueText(lab)}
          {lab.referenceRange !== undefined && ` (${t('visit.range', { range: lab.referenceRange })})`}
          {trend !== undefined && (
            <>
              {' · '}
              <TrendWords trend={trend} />
            </>
          )}
        </Text>
      ))}
    </Stack>
  );
}

function PlanDiff(props: { readonly change: PlanChange }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { plan, from } = props.change;
  const changed = from === null ? [] : session.care.plans.diff(plan, from, plan.version).changes;
  return (
    <Stack gap={2} data-testid="visit-plan">
      <Text size="sm">
        <Badge color="blue" variant="light" mr={6}>
          {from === null ? t('visit.planNew') : t('visit.planChanged', { from, to: plan.version })}
        </Badge>
        <b>{plan.summary}</b>
      </Text>
      {from !== null && changed.length === 0 && <None>{t('visit.planSame')}</None>}
      {from !== null &&
        changed.map((c) => (
          <Text key={c.field} size="sm" pl="md">
            {planFieldLabel(t, c.field)}: {planValue(t, c.field, c.before)} → {planValue(t, c.field, c.after)}
          </Text>
        ))}
      {from === null && plan.details !== undefined && (
        <Text size="sm" pl="md" style={{ whiteSpace: 'pre-wrap' }}>
          {plan.details}
        </Text>
      )}
    </Stack>
  );
}

function NoteBody(props: { readonly signed: SignedNote }): ReactNode {
  const { t } = useTranslation();
  const { note, body } = props.signed;
  const status = useCosignStatus(note);
  const author = status?.signed.find((s) => s.signerRole === 'author');
  const cosigners = (status?.signed ?? []).filter((s) => s.signerRole !== 'author');
  return (
    <Stack gap={4} data-testid="visit-note">
      <Title order={3} size="h5">
        {note.title}
      </Title>
      <Text size="xs" c="dimmed" data-testid="visit-signers">
        {t('visit.signedBy', {
          name: usePersonName(author?.signerId ?? note.authorId),
          when: formatDate(author?.signedAt ?? note.updatedAt),
        })}
        {cosigners.map((s) => (
          <span key={s.id}>
            {' · '}
            <Cosigner signature={s} />
          </span>
        ))}
      </Text>
      <NoteSoap body={body} />
    </Stack>
  );
}

function Cosigner(props: { readonly signature: RecordOf<'NoteSignature'> }): ReactNode {
  const { t } = useTranslation();
  const s = props.signature;
  return (
    <>
      {t('visit.cosignedBy', {
        name: usePersonName(s.signerId),
        when: formatDate(s.signedAt ?? s.updatedAt),
      })}
    </>
  );
}

function Ask(props: { readonly visit: Visit; readonly clinician: string }): ReactNode {
  const { t } = useTranslation();
  const grants = useGrants();
  const { visit: v } = props;
  if (v.clinicianId === undefined) return null;
  const recipient = clinicianRecipients(grants).find((r) => r.accountId === v.clinicianId);
  return (
    <Stack gap={4} className="hale-no-print" data-testid="visit-ask">
      {recipient !== undefined ? (
        <Button
          component={Link}
          to={newMessagePath(
            v.clinicianId,
            t('visit.askBody', { date: formatDate(v.encounter.startedAt), reason: v.encounter.reason ?? '' }),
          )}
          variant="light"
          leftSection={<IconMessage size={18} />}
          h="auto"
          py={6}
          maw="100%"
          styles={{ label: { whiteSpace: 'normal' } }}
          style={{ alignSelf: 'flex-start' }}
        >
          {t('visit.ask', { name: props.clinician })}
        </Button>
      ) : (
        <Alert color="gray" title={t('visit.askNotSharedTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('visit.askNotShared', { name: props.clinician })}</Text>
            <Button component={Link} to="/care/sharing" size="xs" variant="default">
              {t('visit.toSharing')}
            </Button>
          </Stack>
        </Alert>
      )}
    </Stack>
  );
}
