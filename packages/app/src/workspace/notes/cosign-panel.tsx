/**
 * Co-signature of a signed note (`care.notes`): who signed the current version, which requests wait, and
 * which signatures are of an earlier version (the note was amended since: they say nothing of the text
 * now, and a new signature is needed). Asking: a clinician found in the directory, for the exact version
 * signed now; that clinician needs the patient's grant on notes to see it.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Modal, NativeSelect, Stack, Text } from '@mantine/core';
import { tell } from '../../ui/notice';
import { IconSend } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { RecordOf } from '@hale/client';
import { useHaleSession, useRecords } from '@hale/react';
import { formatDate } from '../../records/format';
import { usePatientChart } from '../patients/chart-context';
import { clinicianName, ClinicianFinder, useClinicianNames, type FoundClinician } from '../people';
import { Card, errorText } from '../ui';
import { useCosignStatus } from './cosign-status';

const ROLES = ['attending', 'supervisor', 'consultant'] as const;

export function CosignPanel(props: {
  readonly note: RecordOf<'MedicalNote'>;
  readonly writable: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const { patientId } = usePatientChart();
  const { note } = props;
  const signatures = useRecords('NoteSignature', { patientId });
  const status = useCosignStatus(note, patientId);
  const [asking, setAsking] = useState(false);
  const [chosen, setChosen] = useState<FoundClinician | null>(null);
  const [role, setRole] = useState<(typeof ROLES)[number]>('attending');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useClinicianNames(signatures.items.map((s) => s.record.signerId));

  const ask = async (): Promise<void> => {
    if (chosen === null) return;
    setBusy(true);
    setError(null);
    try {
      await session.care.notes.requestCosign(note.id, chosen.accountId, role);
      setAsking(false);
      setChosen(null);
      tell({
        color: 'teal',
        message: t('workspace.cosign.asked', { who: chosen.name }),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  const cosigners = (status?.signed ?? []).filter((s) => s.signerRole !== 'author');
  return (
    <Card
      title={t('workspace.cosign.title')}
      testId="cosign-panel"
      actions={
        props.writable ? (
          <Button
            size="sm"
            variant="light"
            leftSection={<IconSend size={16} />}
            onClick={() => setAsking(true)}
          >
            {t('workspace.cosign.request')}
          </Button>
        ) : undefined
      }
    >
      {status === null ? (
        <Text size="sm" c="dimmed">
          {t('common.loading')}
        </Text>
      ) : (
        <Stack gap={6}>
          {cosigners.length === 0 && status.pending.length === 0 && (
            <Text size="sm" c="dimmed">
              {t('workspace.cosign.none', { n: status.currentVersion })}
            </Text>
          )}
          {cosigners.map((s) => (
            <Group key={s.id} gap="xs" data-testid="cosign-signed">
              <Badge color="teal">{t('workspace.cosign.signed')}</Badge>
              <Text size="sm">
                {t('workspace.cosign.signedLine', {
                  who: clinicianName(t, s.signerId, me),
                  role: t(`workspace.cosign.roles.${s.signerRole}`, { defaultValue: s.signerRole }),
                  n: s.signedVersionNumber ?? status.currentVersion,
                  when: formatDate(s.signedAt ?? s.updatedAt),
                })}
              </Text>
            </Group>
          ))}
          {status.pending.map((s) => (
            <Group key={s.id} gap="xs" data-testid="cosign-pending">
              <Badge color="blue" variant="light">
                {t('workspace.cosign.pending')}
              </Badge>
              <Text size="sm">
                {t('workspace.cosign.pendingLine', {
                  who: clinicianName(t, s.signerId, me),
                  n: status.currentVersion,
                  when: formatDate(s.requestedAt),
                })}
              </Text>
            </Group>
          ))}
          {status.outdated
            .filter((s) => s.signerRole !== 'author')
            .map((s) => (
              <Group key={s.id} gap="xs" data-testid="cosign-outdated">
                <Badge color="orange" variant="light">
                  {t('workspace.cosign.outdated')}
                </Badge>
                <Text size="sm">
                  {t(
                    s.status === 'signed'
                      ? 'workspace.cosign.outdatedSigned'
                      : 'workspace.cosign.outdatedLine',
                    {
                      who: clinicianName(t, s.signerId, me),
                      n: s.signedVersionNumber ?? '?',
                      current: status.currentVersion,
                    },
                  )}
                </Text>
              </Group>
            ))}
        </Stack>
      )}
      <Modal
        opened={asking}
        onClose={() => setAsking(false)}
        title={t('workspace.cosign.requestTitle', { n: note.currentVersionNumber })}
        closeButtonProps={{ 'aria-label': t('common.close') }}
        size="lg"
      >
        <Stack>
          <Text size="sm">{t('workspace.cosign.requestExplain')}</Text>
          {chosen === null ? (
            <ClinicianFinder exclude={me} onPick={setChosen} />
          ) : (
            <Alert color="blue" variant="light" title={chosen.name}>
              <Group justify="space-between">
                <Text size="sm">{chosen.detail}</Text>
                <Button size="xs" variant="subtle" onClick={() => setChosen(null)}>
                  {t('workspace.cosign.other')}
                </Button>
              </Group>
            </Alert>
          )}
          <NativeSelect
            label={t('workspace.cosign.role')}
            value={role}
            onChange={(e) => setRole(e.currentTarget.value as (typeof ROLES)[number])}
            data={ROLES.map((r) => ({ value: r, label: t(`workspace.cosign.roles.${r}`) }))}
          />
          {error !== null && (
            <Text size="sm" c="red" role="alert">
              {error}
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setAsking(false)}>
              {t('common.cancel')}
            </Button>
            <Button disabled={chosen === null} loading={busy} onClick={() => void ask()}>
              {t('workspace.cosign.send')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}
