// A passphrase field's strength, as a bar and in words, and why a weak one is refused; a new passphrase's
// field with its meter, refused in words once the person tried to go on with a weak one.
import type { ReactNode } from 'react';
import { PasswordInput, Progress, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { MIN_PASSPHRASE_LENGTH } from '@hale/client';
import type { Strength } from './passphrase-strength';

const COLORS = ['red', 'red', 'orange', 'teal', 'green'] as const;

export function StrengthMeter(props: { readonly strength: Strength | null }): ReactNode {
  const { t } = useTranslation();
  const s = props.strength;
  if (s === null) return null;
  return (
    <Stack gap={4} aria-live="polite" data-testid="strength" data-score={s.score} data-accepted={s.accepted}>
      <Progress
        value={(s.score + 1) * 20}
        color={COLORS[s.score]}
        aria-label={t('passphrase.strengthLabel')}
      />
      <Text size="sm" c={s.accepted ? 'teal' : 'red'}>
        {s.tooShort
          ? t('passphrase.tooShort', { min: MIN_PASSPHRASE_LENGTH })
          : t(`passphrase.score${s.score}`)}
      </Text>
      {!s.accepted && (
        <Text size="xs" c="dimmed">
          {t('passphrase.advice')}
        </Text>
      )}
    </Stack>
  );
}

export function NewPassphraseField(props: {
  readonly label: string;
  readonly description?: string;
  readonly required?: boolean;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly strength: Strength | null;
  /** The person tried to go on: a weak passphrase is refused in words. */
  readonly tried: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const weak = props.strength === null || !props.strength.accepted;
  return (
    <>
      <PasswordInput
        label={props.label}
        {...(props.description === undefined ? {} : { description: props.description })}
        withAsterisk={props.required === true}
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value)}
        autoComplete="new-password"
        error={props.tried && weak ? t('create.weakRefused') : undefined}
      />
      <StrengthMeter strength={props.strength} />
    </>
  );
}
