/**
 * One language's face of the emergency card: who the patient is, blood type, allergies, active medications,
 * active conditions and who to call. Every word comes from the `t` it is given (the app's, or i18next's
 * `getFixedT` of the second language), every date from `locale`, so a face is wholly in one language; what
 * the person wrote (names, substances, doses, phone numbers) is shown as written.
 *
 * Invariants: no `useTranslation` here (it would bring the app's language into the second face); `lang`
 * on the face's root when its language is not the page's, for screen readers and fonts.
 */
import type { ReactNode } from 'react';
import { Badge, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import type { TFunction } from 'i18next';
import type { RecordOf } from '@hale/model';
import { formatDateIn } from '../io/date-in';

export interface CardContent {
  readonly profile: RecordOf<'Profile'> | undefined;
  /** Whole years since birth, when the birth date is known. */
  readonly age: number | undefined;
  readonly allergies: readonly RecordOf<'Allergy'>[];
  readonly medications: readonly RecordOf<'Medication'>[];
  readonly conditions: readonly RecordOf<'Condition'>[];
  readonly contacts: readonly RecordOf<'EmergencyContact'>[];
  /** When the card is shown (its "From Hale" line), an instant. */
  readonly at: string;
}

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

const severityColor = (severity: string): string =>
  severity === 'severe' ? 'red' : severity === 'moderate' ? 'orange' : 'yellow';

export function CardFace(props: {
  readonly t: TFunction;
  /** The face's language as a BCP 47 tag (dates through Intl). */
  readonly locale: string;
  /** Set when the face's language is not the page's. */
  readonly lang?: string;
  /** Half a page wide: its details two by two. */
  readonly narrow: boolean;
  readonly content: CardContent;
  readonly testId: string;
}): ReactNode {
  const { t, locale, content } = props;
  const { profile, age, allergies, medications, conditions, contacts } = content;
  const date = (value: string): string => formatDateIn(value, locale);
  return (
    <Stack gap="md" className="hale-card-face" lang={props.lang} data-testid={props.testId}>
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <div>
          <Text size="xs" c="red" fw={800} tt="uppercase">
            {t('emergency.heading')}
          </Text>
          <Title order={2} size="h2" className="hale-card-name">
            {profile?.fullName ?? t('emergency.noProfile')}
          </Title>
        </div>
        <Stack gap={0} align="flex-end">
          <Text size="xs" c="dimmed" tt="uppercase" fw={700} ta="right">
            {t('fields.bloodType')}
          </Text>
          <Text fz={32} fw={800} c="red" lh={1} className="hale-card-blood">
            {profile?.bloodType === undefined ? '—' : t(`enum.bloodType.${profile.bloodType}`)}
          </Text>
        </Stack>
      </Group>
      <SimpleGrid cols={props.narrow ? 2 : { base: 2, sm: 4 }} spacing="sm">
        <Line
          label={t('fields.birthDate')}
          value={
            profile?.birthDate === undefined
              ? undefined
              : `${date(profile.birthDate)} (${t('emergency.age', { age })})`
          }
        />
        <Line
          label={t('fields.sexAtBirth')}
          value={profile?.sexAtBirth === undefined ? undefined : t(`enum.sexAtBirth.${profile.sexAtBirth}`)}
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
                <Table.Tr key={a.id}>
                  <Table.Th scope="row" fw={700}>
                    {a.substance}
                  </Table.Th>
                  <Table.Td>{a.reaction ?? ''}</Table.Td>
                  {/* As wide as its word (the badge's label clips by default, which let the column shrink to a dot). */}
                  <Table.Td style={{ width: '1%', whiteSpace: 'nowrap' }}>
                    {a.severity !== undefined && (
                      <Badge
                        color={severityColor(a.severity)}
                        variant={a.severity === 'severe' ? 'filled' : 'light'}
                        styles={{ label: { overflow: 'visible' } }}
                        data-testid="card-severity"
                      >
                        {t(`enum.severity.${a.severity}`)}
                      </Badge>
                    )}
                    {a.criticality === 'high' && (
                      <Badge
                        color="red"
                        variant="outline"
                        ml={4}
                        styles={{ label: { overflow: 'visible' } }}
                        data-testid="card-criticality"
                      >
                        {t('enum.allergyCriticality.high')}
                      </Badge>
                    )}
                    {a.verificationStatus === 'unconfirmed' && (
                      <Badge
                        color="gray"
                        variant="light"
                        ml={4}
                        styles={{ label: { overflow: 'visible' } }}
                        data-testid="card-unconfirmed"
                      >
                        {t('enum.allergyVerification.unconfirmed')}
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
                <Table.Tr key={m.id}>
                  <Table.Th scope="row" fw={700}>
                    {m.name}
                  </Table.Th>
                  <Table.Td>{[m.dose, m.frequency, m.route].filter(Boolean).join(' · ')}</Table.Td>
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
                <Table.Tr key={c.id}>
                  <Table.Th scope="row" fw={700}>
                    {c.name}
                  </Table.Th>
                  <Table.Td>
                    {c.onsetDate === undefined ? '' : t('emergency.since', { when: date(c.onsetDate) })}
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
          <SimpleGrid cols={props.narrow ? 1 : { base: 1, sm: 2 }} spacing="xs">
            {contacts.map((c) => (
              <div key={c.id}>
                <Text fw={700}>
                  {c.name}{' '}
                  <Text span c="dimmed" fw={400}>
                    ({c.relationship})
                  </Text>
                </Text>
                <Text fz="lg">{c.phone}</Text>
              </div>
            ))}
          </SimpleGrid>
        )}
      </div>
      <Text size="xs" c="dimmed">
        {t('emergency.printed', { when: formatDateIn(content.at, locale) })}
      </Text>
    </Stack>
  );
}
