/**
 * The co-sign queue (`/workspace/cosign`): the co-signatures other clinicians asked of this one
 * (`care.notes.cosignQueue`), oldest first, each naming the patient, the note and the exact version asked;
 * it updates live as requests arrive and leave.
 */
import type { ReactNode } from 'react';
import { Badge, Group, Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { RecordOf, StoredRecord } from '@hale/client';
import { useHaleSession, useObserved, useRecord } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { usePatientName } from '../patients/patient-name';
import { clinicianName, useClinicianNames } from '../people';

export function CosignQueueScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const queue = useObserved(session.care.notes.cosignQueue);
  const sorted = [...queue].sort((a, b) => (a.record.requestedAt < b.record.requestedAt ? -1 : 1));
  return (
    <Stack maw={980}>
      <PageHeader title={t('workspace.cosign.queueTitle')} />
      <Text size="sm" c="dimmed">
        {t('workspace.cosign.queueExplain')}
      </Text>
      {sorted.length === 0 ? (
        <Paper withBorder p="xl">
          <Text fw={600}>{t('workspace.cosign.queueEmpty')}</Text>
        </Paper>
      ) : (
        <Paper withBorder>
          <ul
            role="list"
            aria-label={t('workspace.cosign.queueTitle')}
            style={{ listStyle: 'none', margin: 0, padding: 0 }}
          >
            {sorted.map((s) => (
              <li key={s.record.id}>
                <QueueRow request={s} />
              </li>
            ))}
          </ul>
        </Paper>
      )}
    </Stack>
  );
}

function QueueRow(props: { readonly request: StoredRecord<'NoteSignature'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const r: RecordOf<'NoteSignature'> = props.request.record;
  const note = useRecord<'MedicalNote'>(r.noteId);
  const version = useRecord<'NoteVersion'>(r.noteVersionId);
  const patient = usePatientName(r.patientId);
  const requester = r.requestedBy ?? props.request.by;
  useClinicianNames([requester]);
  const asked = version?.record.versionNumber;
  const current = note?.record.currentVersionNumber;
  return (
    <Link to={`/workspace/cosign/${r.id}`} className="hale-row-link" data-testid={`cosign-${r.id}`}>
      <Group justify="space-between" wrap="nowrap" px="md" py="sm" gap="sm">
        <div style={{ minWidth: 0 }}>
          <Text fw={600} lineClamp={2}>
            {note?.record.title ?? t('kinds.notes.one')} · {patient}
          </Text>
          <Text size="sm" c="dimmed" lineClamp={2}>
            {t('workspace.cosign.askedBy', {
              who: clinicianName(t, requester, session.account.accountId),
              when: formatDate(r.requestedAt),
            })}
          </Text>
        </div>
        <Group gap={6} wrap="nowrap" style={{ flexShrink: 0 }}>
          {asked !== undefined && <Badge variant="light">{t('workspace.note.versionN', { n: asked })}</Badge>}
          {asked !== undefined && current !== undefined && asked !== current && (
            <Badge color="orange" variant="light">
              {t('workspace.cosign.superseded')}
            </Badge>
          )}
        </Group>
      </Group>
    </Link>
  );
}
