/**
 * What the start screens' forms share (create an account, join by passphrase or recovery key, pair):
 *
 * | part | what |
 * |---|---|
 * | `useFormAction(textOf)` | `busy`, `error` (words from `textOf`), `run(fn)`: one submission at a time, error cleared first |
 * | `useDeviceName()` | this device's name, guessed from the browser; `named()` never empty |
 * | `DeviceNameField` | the device-name input |
 * | `AccountForm` | the card, the form (no browser validation), the failure alert, the fields, the actions, the busy line |
 *
 * A failure leaves every field as typed.
 */
import { useCallback, useState, type ReactNode } from 'react';
import { Alert, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { guessDeviceName } from './device-name';

export interface FormAction {
  readonly busy: boolean;
  readonly error: string | null;
  readonly run: (fn: () => Promise<void>) => Promise<void>;
}

export function useFormAction(textOf: (e: unknown) => string): FormAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async (fn: () => Promise<void>): Promise<void> => {
      setBusy(true);
      setError(null);
      try {
        await fn();
      } catch (e) {
        setError(textOf(e));
      } finally {
        setBusy(false);
      }
    },
    [textOf],
  );
  return { busy, error, run };
}

export interface DeviceName {
  readonly value: string;
  readonly set: (v: string) => void;
  /** The name typed, or the guess when it was cleared. */
  readonly named: () => string;
}

export function useDeviceName(): DeviceName {
  const [value, set] = useState(() => guessDeviceName(navigator.userAgent));
  return { value, set, named: () => value.trim() || guessDeviceName(navigator.userAgent) };
}

export function DeviceNameField(props: { readonly name: DeviceName; readonly hint?: boolean }): ReactNode {
  const { t } = useTranslation();
  return (
    <TextInput
      label={t('create.deviceName')}
      {...(props.hint === true ? { description: t('create.deviceNameHint') } : {})}
      value={props.name.value}
      onChange={(e) => props.name.set(e.currentTarget.value)}
    />
  );
}

export function AccountForm(props: {
  readonly onSubmit: () => void;
  readonly error: string | null;
  readonly errorTitle: string;
  /** Shown above the failure alert. */
  readonly intro?: ReactNode;
  readonly children: ReactNode;
  /** The buttons (the submit button among them), in one row. */
  readonly actions: ReactNode;
  readonly actionsJustify?: 'flex-end' | 'space-between';
  /** Said while `busy`, under the buttons. */
  readonly working?: string | null;
}): ReactNode {
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          props.onSubmit();
        }}
      >
        <Stack>
          {props.intro}
          {props.error !== null && (
            <Alert color="red" role="alert" title={props.errorTitle}>
              {props.error}
            </Alert>
          )}
          {props.children}
          <Group justify={props.actionsJustify ?? 'flex-end'}>{props.actions}</Group>
          {props.working != null && (
            <Text size="sm" c="dimmed" aria-live="polite">
              {props.working}
            </Text>
          )}
        </Stack>
      </form>
    </Paper>
  );
}
