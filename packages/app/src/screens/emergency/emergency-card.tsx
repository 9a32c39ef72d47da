/**
 * The emergency card (`/emergency`): who the patient is, blood type, allergies, active medications, active
 * conditions and who to call, on one screen, from this device's store (offline too), printable on one page
 * (the print stylesheet hides the app's frame; the card is laid out to fit A4 or Letter). With a card QR
 * made in this session (emergency-link.tsx), the QR prints on the card; below the card (not printed), the
 * QR's controls and every opening of it.
 */
import type { ReactNode } from 'react';
import { Badge, Button, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useRecords } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { formatDate } from '../../records/format';
import { dayjs } from '../../boot/dayjs';
import { isActiveCondition } from '../../records/clinical';
import { EmergencyLinkPanel, EmergencyQr, useEmergencyLink } from './emergency-link';

function Line(props: { readonly label: string; readonly value: string | undefined }): ReactNode {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {props.label}
      </Text>
      <Text fw={600}>{props.value === undefined || props.value === '' ? '—' : props.value}</Text>
    </div>
  );
}

export function EmergencyCardScreen(): ReactNode {
  const { t } = useTranslation();
  const profiles = useRecords('Profile', {});
  const allAllergies = useRecords('Allergy', {}).items;
  const allMedications = useRecords('Medication', {}).items;
  const allergies = allAllergies.filter((a) => a.record.active);
  const medications = allMedications.filter((m) => m.record.active);
  const contacts = useRecords('EmergencyContact', {}).items;
  const allConditions = useRecords('Condition', {}).items;
  const conditions = allConditions.filter((c) => isActiveCondition(c.record));
  const card = useEmergencyLink();
  const latestChange = [
    ...profiles.items,
    ...allAllergies,
    ...allMedications,
    ...allConditions,
    ...contacts,
  ].reduce<string | undefined>(
    (at, s) => (at === undefined || s.record.updatedAt > at ? s.record.updatedAt : at),
    undefined,
  );
  const profile =
    profiles.items.find((p) => p.record.status === 'active')?.record ?? profiles.items[0]?.record;
  const age = profile?.birthDate === undefined ? undefined : dayjs().diff(dayjs(profile.birthDate), 'year');
  return (
    <Stack maw={900} gap="md">
      <PageHeader
        title={t('emergency.title')}
        actions={
          <Button leftSection={<IconPrinter size={18} />} onClick={() => window.print()}>
            {t('emergency.print')}
          </Button>
        }
      />
      <Text size="sm" c="dimmed" className="hale-no-print">
        {t('emergency.explain')}
      </Text>
      <Paper withBorder p="lg" className="hale-print-card" data-testid="emergency-card">
        <Stack gap="md">
          <Group justify="space-between" align="flex-start">
            <div>
              <Text size="xs" c="red" fw={800} tt="uppercase">
                {t('emergency.heading')}
              </Text>
              <Title order={2} size="h2">
                {profile?.fullName ?? t('emergency.noProfile')}
              </Title>
            </div>
            <Stack gap={0} align="flex-end">
              <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                {t('fields.bloodType')}
              </Text>
              <Text fz={32} fw={800} c="red" lh={1}>
                {profile?.bloodType === undefined ? '—' : t(`enum.bloodType.${profile.bloodType}`)}
              </Text>
            </Stack>
          </Group>
          <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="sm">
            <Line
              label={t('fields.birthDate')}
              value={
                profile?.birthDate === undefined
                  ? undefined
                  : `${formatDate(profile.birthDate)} (${t('emergency.age', { age })})`
              }
            />
            <Line
              label={t('fields.sexAtBirth')}
              value={
                profile?.sexAtBirth === undefined ? undefined : t(`enum.sexAtBirth.${profile.sexAtBirth}`)
              }
            />
            <Line label={t('fields.medicalRecordNumber')} value={profile?.medicalRecordNumber} />
            <Line label={t('fields.primaryCareProvider')} value={profile?.primaryCareProvider} />
          </SimpleGrid>
          <div>
            <Title order={3} size="h4" mb={6}>
              {t('emergency.allergies')}
            </Title>
            {allergies.length === 0 ? (
              <Text>{t('emergency.noAllergies')}</Text>
            ) : (
              <Table withRowBorders verticalSpacing={4}>
                <Table.Tbody>
                  {allergies.map((a) => (
                    <Table.Tr key={a.record.id}>
                      <Table.Td fw={700}>{a.record.substance}</Table.Td>
                      <Table.Td>{a.record.reaction ?? ''}</Table.Td>
                      <Table.Td>
                        {a.record.severity !== undefined && (
                          <Badge
                            color={
                              a.record.severity === 'severe'
                                ? 'red'
                                : a.record.severity === 'moderate'
                                  ? 'orange'
                                  : 'yellow'
                            }
                            variant={a.record.severity === 'severe' ? 'filled' : 'light'}
                          >
                            {t(`enum.severity.${a.record.severity}`)}
                          </Badge>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </div>
          <div>
            <Title order={3} size="h4" mb={6}>
              {t('emergency.medications')}
            </Title>
            {medications.length === 0 ? (
              <Text>{t('emergency.noMedications')}</Text>
            ) : (
              <Table withRowBorders verticalSpacing={4}>
                <Table.Tbody>
                  {medications.map((m) => (
                    <Table.Tr key={m.record.id}>
                      <Table.Td fw={700}>{m.record.name}</Table.Td>
                      <Table.Td>{[m.record.dose, m.record.frequency].filter(Boolean).join(' · ')}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </div>
          <div>
            <Title order={3} size="h4" mb={6}>
              {t('emergency.conditions')}
            </Title>
            {conditions.length === 0 ? (
              <Text>{t('emergency.noConditions')}</Text>
            ) : (
              <Table withRowBorders verticalSpacing={4}>
                <Table.Tbody>
                  {conditions.map((c) => (
                    <Table.Tr key={c.record.id}>
                      <Table.Td fw={700}>{c.record.name}</Table.Td>
                      <Table.Td>
                        {c.record.onsetDate === undefined
                          ? ''
                          : t('emergency.since', { when: formatDate(c.record.onsetDate) })}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </div>
          <div>
            <Title order={3} size="h4" mb={6}>
              {t('emergency.contacts')}
            </Title>
            {contacts.length === 0 ? (
              <Text>{t('emergency.noContacts')}</Text>
            ) : (
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs">
                {contacts.map((c) => (
                  <div key={c.record.id}>
                    <Text fw={700}>
                      {c.record.name}{' '}
                      <Text span c="dimmed" fw={400}>
                        ({c.record.relationship})
                      </Text>
                    </Text>
                    <Text fz="lg">{c.record.phone}</Text>
                  </div>
                ))}
              </SimpleGrid>
            )}
          </div>
          {card.created !== undefined && card.active?.linkId === card.created.linkId && (
            <EmergencyQr link={card.created} />
          )}
          <Text size="xs" c="dimmed">
            {t('emergency.printed', { when: formatDate(new Date().toISOString()) })}
          </Text>
        </Stack>
      </Paper>
      <EmergencyLinkPanel state={card} latestChange={latestChange} />
    </Stack>
  );
}
