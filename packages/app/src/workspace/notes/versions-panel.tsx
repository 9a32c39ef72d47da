/**
 * Every version of a note, newest first: its number, kind (original, amendment, addendum), who wrote it
 * and when, why (an amendment's reason), who signed it, and its text. Versions are never changed once
 * signed; an amendment is the next version, and the earlier ones stay here.
 */
import type { ReactNode } from 'react';
import { Accordion, Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { RecordOf } from '@hale/client';
import { useHaleSession, useRecords } from '@hale/react';
import { formatDate } from '../../records/format';
import { usePatientChart } from '../patients/chart-context';
import { clinicianName, useClinicianNames } from '../people';
import { SOAP } from './note-actions';

export function VersionsPanel(props: {
  readonly note: RecordOf<'MedicalNote'>;
  readonly versions: readonly RecordOf<'NoteVersion'>[];
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const { patientId } = usePatientChart();
  const signatures = useRecords('NoteSignature', { patientId });
  const signed = signatures.items
    .map((s) => s.record)
    .filter((s) => s.noteId === props.note.id && s.status === 'signed');
  useClinicianNames([...signed.map((s) => s.signerId), ...props.versions.map((v) => v.editorId)]);
  const newest = [...props.versions].sort((a, b) => b.versionNumber - a.versionNumber);
  return (
    <Paper withBorder p="md">
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('workspace.note.versions')}
        </Title>
        <Text size="sm" c="dimmed">
          {t('workspace.note.versionsExplain')}
        </Text>
        <Accordion multiple variant="separated" defaultValue={newest.slice(0, 1).map((v) => v.id)}>
          {newest.map((v) => {
            const by = signed.filter((s) => s.noteVersionId === v.id);
            return (
              <Accordion.Item key={v.id} value={v.id} data-testid={`note-version-${v.versionNumber}`}>
                <Accordion.Control>
                  <Group gap="xs" wrap="wrap">
                    <Text fw={600}>{t('workspace.note.versionN', { n: v.versionNumber })}</Text>
                    <Badge variant="light">{t(`enum.noteVersionKind.${v.kind}`)}</Badge>
                    {v.versionNumber === props.note.currentVersionNumber && (
                      <Badge variant="outline">{t('history.current')}</Badge>
                    )}
                    {by.map((s) => (
                      <Badge key={s.id} color="teal" variant="light">
                        {t(
                          s.signerRole === 'author'
                            ? 'workspace.note.signedByAuthor'
                            : 'workspace.note.cosignedBy',
                          {
                            who: clinicianName(t, s.signerId, me),
                          },
                        )}
                      </Badge>
                    ))}
                  </Group>
                </Accordion.Control>
                <Accordion.Panel>
                  <Stack gap={6}>
                    <Text size="sm" c="dimmed">
                      {t('workspace.note.versionBy', {
                        who: clinicianName(t, v.editorId, me),
                        when: formatDate(v.updatedAt),
                      })}
                    </Text>
                    {v.amendmentReason !== undefined && (
                      <Text size="sm">
                        {t('workspace.note.amendmentReason', { reason: v.amendmentReason })}
                      </Text>
                    )}
                    {SOAP.map((f) =>
                      v[f] === undefined ? null : (
                        <Text key={f} size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                          <b>{t(`fields.${f}`)}:</b> {v[f]}
                        </Text>
                      ),
                    )}
                    {SOAP.every((f) => v[f] === undefined) && (
                      <Text size="sm" c="dimmed">
                        {t('workspace.note.emptyVersion')}
                      </Text>
                    )}
                  </Stack>
                </Accordion.Panel>
              </Accordion.Item>
            );
          })}
        </Accordion>
      </Stack>
    </Paper>
  );
}
