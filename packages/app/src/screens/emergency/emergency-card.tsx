/**
 * The emergency card (`/emergency`): who the patient is, blood type, allergies (most dangerous first:
 * allergy-order.ts), active medications, active
 * conditions and who to call (card-face.tsx), from this device's store (offline too), printable on one page
 * (the print stylesheet hides the app's frame; the card is laid out to fit A4 or Letter). With a card QR
 * made in this session (emergency-link.tsx), the QR prints on the card; below the card (not printed), the
 * QR's controls and every opening of it.
 *
 * In two languages (for care where the person's language is not spoken): the card in the app's language
 * and, beside it, in one the person picks of the app's other languages (English unless English is the
 * app's), each face wholly in its language (i18next's `getFixedT`), side by side on the one printed page
 * (emergency-card.css), one above the other on a phone's screen. Off until asked for.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Button, Group, NativeSelect, Paper, Stack, Switch, Text } from '@mantine/core';
import { IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useRecords } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { byDanger } from './allergy-order';
import { dayjs } from '../../boot/dayjs';
import { useApp } from '../../boot/app-state';
import type { Language } from '../../boot/settings';
import { HTML_LANG } from '../../i18n/index';
import { isActiveCondition } from '../../records/clinical';
import { CardFace, type CardContent } from './card-face';
import { secondLanguages } from './second-language';
import { EmergencyLinkPanel, EmergencyQr, useEmergencyLink } from './emergency-link';
import './emergency-card.css';

export function EmergencyCardScreen(): ReactNode {
  const { t, i18n } = useTranslation();
  const language = useApp().settings.language;
  const { choices, first } = secondLanguages(language);
  const [twoLanguages, setTwoLanguages] = useState(false);
  const [picked, setPicked] = useState<Language | null>(null);
  const second = picked !== null && choices.includes(picked) ? picked : first;
  const secondT = useMemo(() => i18n.getFixedT(second), [i18n, second]);
  const profiles = useRecords('Profile', {});
  const allAllergies = useRecords('Allergy', {}).items;
  const allMedications = useRecords('Medication', {}).items;
  const contacts = useRecords('EmergencyContact', {}).items;
  const allConditions = useRecords('Condition', {}).items;
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
  const content: CardContent = {
    profile,
    age: profile?.birthDate === undefined ? undefined : dayjs().diff(dayjs(profile.birthDate), 'year'),
    allergies: byDanger(allAllergies.filter((a) => a.record.active).map((a) => a.record)),
    medications: allMedications.filter((m) => m.record.active).map((m) => m.record),
    conditions: allConditions.filter((c) => isActiveCondition(c.record)).map((c) => c.record),
    contacts: contacts.map((c) => c.record),
    at: new Date().toISOString(),
  };
  const qr =
    card.created !== undefined && card.active?.linkId === card.created.linkId ? card.created : undefined;
  return (
    <Stack maw={twoLanguages ? 1240 : 900} gap="md">
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
      <Group className="hale-no-print" align="flex-end" gap="lg">
        <Switch
          checked={twoLanguages}
          onChange={(e) => setTwoLanguages(e.currentTarget.checked)}
          label={t('emergency.twoLanguages')}
          description={t('emergency.twoLanguagesHint')}
        />
        {twoLanguages && (
          <NativeSelect
            label={t('emergency.secondLanguage')}
            value={second}
            onChange={(e) => setPicked(e.currentTarget.value as Language)}
            data={choices.map((l) => ({ value: l, label: t(`languages.${l}`) }))}
          />
        )}
      </Group>
      <Paper
        withBorder
        p="lg"
        className="hale-print-card hale-emergency-card"
        data-two-languages={twoLanguages ? '' : undefined}
        data-testid="emergency-card"
      >
        <Stack gap="md">
          <div className="hale-card-faces">
            <CardFace
              t={t}
              locale={HTML_LANG[language]}
              narrow={twoLanguages}
              content={content}
              testId="emergency-card-face"
            />
            {twoLanguages && (
              <CardFace
                t={secondT}
                locale={HTML_LANG[second]}
                lang={HTML_LANG[second]}
                narrow
                content={content}
                testId="emergency-card-second"
              />
            )}
          </div>
          {qr !== undefined && (
            <EmergencyQr
              link={qr}
              {...(twoLanguages ? { also: { t: secondT, lang: HTML_LANG[second] } } : {})}
            />
          )}
        </Stack>
      </Paper>
      <EmergencyLinkPanel state={card} latestChange={latestChange} />
    </Stack>
  );
}
