/**
 * One record (`/chart/:slug/:id`): its fields, who wrote it, its problems (conflict, versions set aside,
 * changes not sent), its history (versioned kinds, notes), edit and delete (confirmed; a refusal said in
 * words). A plan can be acknowledged; a document previewed and downloaded. Codes, a result's parts and an
 * imported record's origin show below its fields (record-extras.tsx); comments about it, and where another
 * wrote it, "Add a comment", below them (comments-panel.tsx).
 */
import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Modal, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconEdit, IconMessage, IconTrash } from '@tabler/icons-react';
import { tell } from '../ui/notice';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useNavigate, useParams } from 'react-router';
import { isHaleError, rightsOver, type StoredRecord } from '@hale/client';
import { useDevices, useRecord, useRecords, useHaleSession } from '@hale/react';
import { isKindSlug, KINDS, NOTE_VERSION_FIELDS, type KindSpec } from './kinds';
import { formatDate, formatField, recordTitle } from './format';
import { valueAt } from './values';
import { fieldsOf, updateRecord } from './write';
import { whoWrote } from './authorship';
import { HistoryPanel } from './history-panel';
import { ConflictPanel } from './conflict-panel';
import { RecordExtras } from './record-extras';
import { DoseAdherence } from './dose-adherence';
import { CommentsPanel } from './comments-panel';
import { PageHeader } from '../ui/page-header';
import { ProblemsFor } from '../screens/problems/problems-inline';
import { DocumentView } from '../screens/documents/document-view';
import { fileRefOf } from '../screens/documents/file-ref';
import { patientQuery, useChartScope } from './chart-scope';
import { newMessagePath } from '../care/messages/paths';
import { useDirectoryNames } from '../care/people';
import { haleErrorText } from '../i18n/error-words';

export function RecordDetailScreen(): ReactNode {
  const { slug, id } = useParams();
  if (!isKindSlug(slug) || id === undefined) return <Navigate to="/" replace />;
  return <Detail key={id} spec={KINDS[slug]} id={id} />;
}

function Detail(props: { readonly spec: KindSpec; readonly id: string }): ReactNode {
  const { spec, id } = props;
  const { t } = useTranslation();
  const scope = useChartScope();
  const stored = useRecord(id);
  const [removed, setRemoved] = useState(false);
  if (stored === null) {
    return (
      <Stack>
        <PageHeader title={t(`kinds.${spec.slug}.title`)} back={`${scope.base}/${spec.slug}`} />
        <Text>{removed ? t('records.removed') : t('records.notFound')}</Text>
      </Stack>
    );
  }
  return <DetailBody spec={spec} stored={stored} onRemoved={() => setRemoved(true)} />;
}

function DetailBody(props: {
  readonly spec: KindSpec;
  readonly stored: StoredRecord;
  readonly onRemoved: () => void;
}): ReactNode {
  const { spec, stored } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const scope = useChartScope();
  const devices = useDevices();
  const me = { accountId: session.account.accountId, deviceId: session.account.deviceId };
  const record = fieldsOf(stored.record);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const noteVersions = useRecords('NoteVersion', patientQuery(scope));
  const versionsOfNote =
    spec.kind === 'MedicalNote'
      ? noteVersions.items
          .filter((v) => v.record.noteId === stored.record.id)
          .sort((a, b) => b.record.versionNumber - a.record.versionNumber)
      : [];
  const names = useDirectoryNames(
    [stored.by, ...versionsOfNote.map((v) => v.by)].filter((x): x is string => x !== undefined),
  );

  const remove = async (): Promise<void> => {
    setError(null);
    try {
      if (spec.kind === 'HealthDocument' && typeof record['file'] === 'object' && record['file'] !== null) {
        // The file first, naming the record's stream; then the record.
        const file = fileRefOf(record['file']);
        if (file !== null) await session.files.delete(file, { type: 'document' }).catch(() => undefined);
      }
      for (const v of versionsOfNote) await session.records.remove(v.record.id);
      await session.records.remove(stored.record.id);
      props.onRemoved();
      setConfirm(false);
      tell({
        color: 'teal',
        message: t('records.deleted'),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
      void navigate(`${scope.base}/${spec.slug}`, { replace: true });
    } catch (e) {
      setError(isHaleError(e) ? haleErrorText(t, e, 'recordError') : String(e));
      setConfirm(false);
    }
  };

  const acknowledge = async (): Promise<void> => {
    setError(null);
    try {
      await updateRecord(session, 'TreatmentPlan', stored.record.id, {
        acknowledgement: { by: me.accountId, at: new Date().toISOString(), version: record['version'] },
      });
    } catch (e) {
      setError(isHaleError(e) ? haleErrorText(t, e, 'recordError') : String(e));
    }
  };
  const acknowledged = fieldsOf(
    typeof record['acknowledgement'] === 'object' && record['acknowledgement'] !== null
      ? record['acknowledgement']
      : {},
  );
  const ackVersion = typeof acknowledged['version'] === 'number' ? acknowledged['version'] : undefined;
  const planVersion = typeof record['version'] === 'number' ? record['version'] : undefined;
  const needsAck =
    spec.kind === 'TreatmentPlan' &&
    scope.patientId === undefined &&
    record['status'] === 'active' &&
    ackVersion !== planVersion;

  // Another's note, result, visit or plan is theirs to change (the model's authorship rules): in place of
  // Edit and Delete, a message asking its author for a correction.
  const rights = rightsOver(stored, me.accountId);
  const canEdit = scope.canWrite(spec.kind) && rights.change;
  const canRemove = scope.canDelete && rights.remove;
  const author = stored.by;
  const askCorrection =
    !rights.change && author !== me.accountId
      ? newMessagePath(
          author,
          t('records.correctionBody', {
            title: recordTitle(t, spec, record),
            kind: t(`kinds.${spec.slug}.one`, { defaultValue: t(`kinds.${spec.slug}.title`) }),
            date: formatDate(stored.record.updatedAt),
          }),
        )
      : null;

  const shown = spec.fields.filter(
    (f) => spec.kind !== 'MedicalNote' || !(NOTE_VERSION_FIELDS as readonly string[]).includes(f.name),
  );
  return (
    <Stack maw={980}>
      <PageHeader
        title={recordTitle(t, spec, record)}
        back={`${scope.base}/${spec.slug}`}
        actions={
          canEdit || canRemove || askCorrection !== null ? (
            <>
              {askCorrection !== null && (
                <Button
                  component={Link}
                  to={askCorrection}
                  leftSection={<IconMessage size={18} />}
                  variant="default"
                >
                  {t('records.askCorrection')}
                </Button>
              )}
              {canEdit && (
                <Button
                  component={Link}
                  to={`${scope.base}/${spec.slug}/${stored.record.id}/edit`}
                  leftSection={<IconEdit size={18} />}
                  variant="default"
                >
                  {t('common.edit')}
                </Button>
              )}
              {canRemove && (
                <Button
                  color="red"
                  variant="light"
                  leftSection={<IconTrash size={18} />}
                  onClick={() => setConfirm(true)}
                >
                  {t('common.delete')}
                </Button>
              )}
            </>
          ) : undefined
        }
      />
      <ConflictPanel spec={spec} stored={stored} />
      <ProblemsFor kind={spec.kind} id={stored.record.id} />
      {error !== null && (
        <Alert color="red" role="alert" title={t('records.notDone')}>
          {error}
        </Alert>
      )}
      {needsAck && (
        <Alert color="blue" title={t('plans.ackTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('plans.ackExplain', { version: planVersion })}</Text>
            <Button size="sm" onClick={() => void acknowledge()}>
              {t('plans.acknowledge')}
            </Button>
          </Stack>
        </Alert>
      )}
      {spec.kind === 'HealthDocument' && <DocumentView stored={stored} />}
      {spec.kind === 'Encounter' && scope.patientId === undefined && (
        <Alert color="blue" title={t('visit.open')} data-testid="visit-link">
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('visit.openExplain')}</Text>
            <Button component={Link} to={`/visits/${stored.record.id}`} size="sm">
              {t('visit.open')}
            </Button>
          </Stack>
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md" verticalSpacing="sm">
          {shown.map((field) => {
            const value = formatField(t, field, valueAt(record, field.name), me.accountId);
            return (
              <div key={field.name}>
                <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
                  {t(`fields.${field.name}`)}
                </Text>
                <Text style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
                  {value === '' ? '—' : value}
                </Text>
              </div>
            );
          })}
        </SimpleGrid>
        <Group gap="xs" mt="lg">
          <Text size="sm" c="dimmed">
            {t('records.lastChanged', {
              when: formatDate(stored.record.updatedAt),
              who: whoWrote(t, me, devices, stored.by, stored.author, names),
            })}
          </Text>
          {spec.kind === 'TreatmentPlan' && ackVersion !== undefined && (
            <Badge color="teal" variant="light">
              {t('plans.acknowledgedBadge', { version: ackVersion })}
            </Badge>
          )}
        </Group>
      </Paper>
      <RecordExtras record={record} />
      {spec.kind === 'Medication' && <DoseAdherence medicationId={stored.record.id} />}
      {versionsOfNote.length > 0 && (
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="xs">
            {t('notes.versions')}
          </Title>
          <Stack>
            {versionsOfNote.map((v) => (
              <Stack key={v.record.id} gap={4}>
                <Group gap="xs">
                  <Badge variant="light">{t('notes.versionN', { n: v.record.versionNumber })}</Badge>
                  <Text size="sm" c="dimmed">
                    {t(`enum.noteVersionKind.${v.record.kind}`)} · {formatDate(v.record.updatedAt)} ·{' '}
                    {whoWrote(t, me, devices, v.by, v.author, names)}
                  </Text>
                </Group>
                {NOTE_VERSION_FIELDS.map((f) =>
                  v.record[f] === undefined ? null : (
                    <Text key={f} size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                      <b>{t(`fields.${f}`)}:</b> {v.record[f]}
                    </Text>
                  ),
                )}
              </Stack>
            ))}
          </Stack>
        </Paper>
      )}
      <CommentsPanel about={stored} mayAdd={askCorrection !== null && scope.canWrite('Comment')} />
      {spec.versioned && <HistoryPanel stored={stored} />}
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={t('records.deleteTitle')}
      >
        <Stack>
          <Text>{t('records.deleteConfirm', { title: recordTitle(t, spec, record) })}</Text>
          <Text size="sm" c="dimmed">
            {t('records.deleteExplain')}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" onClick={() => void remove()}>
              {t('common.delete')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
