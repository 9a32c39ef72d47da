/**
 * One co-sign request (`/workspace/cosign/:signatureId`): the exact version asked, in full, with the
 * note's own state (if it was amended since, that version is not the current text: said before signing);
 * sign it (`care.notes.cosign`, which signs exactly that version) or decline, with a comment.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Paper, Stack, Text, Textarea, Title } from '@mantine/core';
import { IconSignature, IconX } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import type { RecordOf } from '@hale/client';
import { useHaleSession, useRecord } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { usePatientName } from '../patients/patient-name';
import { clinicianName, useClinicianNames } from '../people';
import { SOAP } from '../notes/note-actions';
import { errorText } from '../ui';

export function CosignReviewScreen(): ReactNode {
  const { signatureId } = useParams();
  return signatureId === undefined ? null : <Loader key={signatureId} id={signatureId} />;
}

function Loader(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'NoteSignature'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <Review request={stored.record} by={stored.by} />;
}

function Review(props: { readonly request: RecordOf<'NoteSignature'>; readonly by: string }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const r = props.request;
  const note = useRecord<'MedicalNote'>(r.noteId)?.record;
  const version = useRecord<'NoteVersion'>(r.noteVersionId)?.record;
  const patient = usePatientName(r.patientId);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<'sign' | 'decline' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const answer = async (how: 'sign' | 'decline'): Promise<void> => {
    setBusy(how);
    setError(null);
    try {
      const text = comment.trim() === '' ? undefined : comment.trim();
      if (how === 'sign') await session.care.notes.cosign(r.id, text);
      else await session.care.notes.declineCosign(r.id, text);
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(null);
    }
  };
  const superseded =
    version !== undefined && note !== undefined && version.versionNumber !== note.currentVersionNumber;
  const mine = r.signerId === me;
  useClinicianNames([r.requestedBy ?? props.by]);
  return (
    <Stack maw={900}>
      <PageHeader title={t('workspace.cosign.reviewTitle')} back="/workspace/cosign" />
      <Text size="sm">
        {t('workspace.cosign.reviewIntro', {
          who: clinicianName(t, r.requestedBy ?? props.by, me),
          patient,
          when: formatDate(r.requestedAt),
        })}
      </Text>
      {r.status !== 'requested' && (
        <Alert color={r.status === 'signed' ? 'teal' : 'gray'} data-testid="cosign-answered">
          {t(r.status === 'signed' ? 'workspace.cosign.youSigned' : 'workspace.cosign.youDeclined', {
            n: r.signedVersionNumber ?? version?.versionNumber ?? '?',
            when: formatDate(r.signedAt ?? r.updatedAt),
          })}
        </Alert>
      )}
      {superseded && r.status === 'requested' && (
        <Alert color="orange" title={t('workspace.cosign.supersededTitle')}>
          {t('workspace.cosign.supersededExplain', {
            n: version.versionNumber,
            current: note.currentVersionNumber,
          })}
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }} data-testid="cosign-version">
        {version === undefined ? (
          <Text c="dimmed">{t('workspace.cosign.versionNotHere')}</Text>
        ) : (
          <Stack gap="sm">
            <Group gap="xs">
              <Title order={2} size="h4">
                {note?.title ?? t('kinds.notes.one')}
              </Title>
              <Badge variant="light">{t('workspace.note.versionN', { n: version.versionNumber })}</Badge>
              <Badge variant="light" color="gray">
                {t(`enum.noteVersionKind.${version.kind}`)}
              </Badge>
            </Group>
            {version.amendmentReason !== undefined && (
              <Text size="sm">
                {t('workspace.note.amendmentReason', { reason: version.amendmentReason })}
              </Text>
            )}
            {SOAP.map((f) =>
              version[f] === undefined ? null : (
                <div key={f}>
                  <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
                    {t(`fields.${f}`)}
                  </Text>
                  <Text style={{ whiteSpace: 'pre-wrap' }}>{version[f]}</Text>
                </div>
              ),
            )}
          </Stack>
        )}
      </Paper>
      {r.status === 'requested' && mine && (
        <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
          <Stack>
            <Textarea
              id="cosign-comment"
              label={t('workspace.cosign.comment')}
              autosize
              minRows={2}
              value={comment}
              onChange={(e) => setComment(e.currentTarget.value)}
            />
            {error !== null && (
              <Alert color="red" role="alert" title={t('records.notDone')}>
                {error}
              </Alert>
            )}
            <Group justify="flex-end">
              <Button
                variant="default"
                color="red"
                leftSection={<IconX size={18} />}
                loading={busy === 'decline'}
                disabled={busy !== null}
                onClick={() => void answer('decline')}
              >
                {t('workspace.cosign.decline')}
              </Button>
              <Button
                leftSection={<IconSignature size={18} />}
                loading={busy === 'sign'}
                disabled={busy !== null || version === undefined}
                onClick={() => void answer('sign')}
              >
                {t('workspace.cosign.signVersion', { n: version?.versionNumber ?? '?' })}
              </Button>
            </Group>
          </Stack>
        </Paper>
      )}
    </Stack>
  );
}
