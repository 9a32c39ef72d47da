// Sharing, step 3: first what the sharing is for (a preset of kinds, access and duration, scope.ts
// `USE_PRESETS`), then per record kind none, read, or read and write; until when; why; a plain preview of
// what the clinician will see and can do. Problems said at the field (scope.ts), before anything is sent.
// Without the profile shared, the person is told the clinician sees a short code, not a name. A change of a
// grant (`change`) asks no use, and offers to keep the grant's end.
import { useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Group,
  NativeSelect,
  Paper,
  Radio,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { formatDate } from '../../records/format';
import { streamLabel } from '../streams';
import { usePersonName } from '../people';
import {
  CHOSEN_KINDS,
  endsAt,
  EXPIRIES,
  formProblems,
  scopeOf,
  USES,
  withUse,
  type Expiry,
  type Level,
  type ShareForm,
  type Use,
} from './scope';
import { SharePreview } from './share-preview';

export function ScopeStep(props: {
  readonly accountId: string;
  readonly form: ShareForm;
  readonly onChange: (form: ShareForm) => void;
  readonly onNext: () => void;
  /** A change of a grant: no question of what the sharing is for (its kinds are the grant's). */
  readonly change?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const name = usePersonName(props.accountId);
  const { form, onChange } = props;
  const [tried, setTried] = useState(false);
  const problems = tried ? formProblems(form, Date.now()) : {};
  const levels: Level[] = ['none', 'read', 'write'];
  const purposeWords = (use: Use): string => (use === 'other' ? '' : t(`care.share.usePurpose.${use}`));
  const keep =
    form.keptEnd === undefined
      ? []
      : [
          {
            value: 'keep',
            label: t('care.expiry.keep', { when: formatDate(new Date(form.keptEnd).toISOString()) }),
          },
        ];
  return (
    <Stack>
      {props.change !== true && (
        <Radio.Group
          id="share-use"
          label={
            <Title order={2} size="h4" component="span">
              {t('care.share.useTitle')}
            </Title>
          }
          value={form.use ?? ''}
          onChange={(value) => onChange(withUse(form, value as Use, purposeWords))}
        >
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs" mt="xs">
            {USES.map((use) => (
              <Radio.Card key={use} value={use} p="sm" radius="md" data-testid={`share-use-${use}`}>
                <Group wrap="nowrap" align="flex-start" gap="sm">
                  <Radio.Indicator mt={2} />
                  {/* Spans: a button holds phrasing content only. */}
                  <Text component="span" display="block">
                    <Text component="span" display="block" fw={600} size="sm">
                      {t(`care.share.use.${use}`)}
                    </Text>
                    <Text component="span" display="block" size="xs" c="dimmed">
                      {t(`care.share.useHint.${use}`)}
                    </Text>
                  </Text>
                </Group>
              </Radio.Card>
            ))}
          </SimpleGrid>
        </Radio.Group>
      )}
      <Title order={2} size="h4">
        {t('care.share.whatWith', { name })}
      </Title>
      <Paper withBorder p="md">
        <Stack gap="sm">
          <Text size="sm" c="dimmed">
            {form.use !== null && form.use !== 'other' ? `${t('care.share.adjust')} ` : ''}
            {t('care.share.levelsExplain')}
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="sm" verticalSpacing="xs">
            {CHOSEN_KINDS.map((kind) => (
              <NativeSelect
                key={kind}
                id={`share-${kind}`}
                label={streamLabel(t, kind)}
                value={form.levels[kind] ?? 'none'}
                data={levels.map((l) => ({ value: l, label: t(`care.level.${l}`) }))}
                onChange={(e) =>
                  onChange({ ...form, levels: { ...form.levels, [kind]: e.currentTarget.value as Level } })
                }
              />
            ))}
          </SimpleGrid>
          {(form.levels.profile ?? 'none') === 'none' &&
            Object.values(form.levels).some((l) => l !== 'none') && (
              <Text size="sm" data-testid="share-no-profile">
                {t('care.share.noProfile', { name })}
              </Text>
            )}
          {problems.scope !== undefined && (
            <Alert color="red" role="alert">
              {t(problems.scope)}
            </Alert>
          )}
        </Stack>
      </Paper>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <NativeSelect
          id="share-expiry"
          label={t('care.share.expiry')}
          value={form.expiry}
          data={[...keep, ...EXPIRIES.map((e) => ({ value: e, label: t(`care.expiry.${e}`) }))]}
          onChange={(e) => onChange({ ...form, expiry: e.currentTarget.value as Expiry | 'keep' })}
        />
        {form.expiry === 'date' && (
          <TextInput
            id="share-until"
            type="date"
            label={t('care.share.until')}
            value={form.until}
            error={problems.until === undefined ? undefined : t(problems.until)}
            onChange={(e) => onChange({ ...form, until: e.currentTarget.value })}
          />
        )}
      </SimpleGrid>
      <TextInput
        id="share-purpose"
        label={t('care.share.purpose')}
        description={t('care.share.purposeHint')}
        withAsterisk
        maxLength={500}
        value={form.purpose}
        error={problems.purpose === undefined ? undefined : t(problems.purpose)}
        onChange={(e) => onChange({ ...form, purpose: e.currentTarget.value })}
      />
      <SharePreview name={name} scope={scopeOf(form)} end={endsAt(form, Date.now())} />
      <Group>
        <Button
          onClick={() => {
            setTried(true);
            if (Object.keys(formProblems(form, Date.now())).length === 0) props.onNext();
          }}
        >
          {t(props.change === true ? 'care.change.review' : 'care.share.review')}
        </Button>
      </Group>
    </Stack>
  );
}
