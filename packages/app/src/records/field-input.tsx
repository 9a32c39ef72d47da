// One form field of a record kind, by its type (the model's FieldType); the label is `fields.<name>`.
import { useState, type ReactNode } from 'react';
import {
  Button,
  Group,
  Modal,
  NativeSelect,
  Stack,
  Switch,
  Text,
  TextInput,
  Textarea,
  UnstyledButton,
} from '@mantine/core';
import { DateInput } from '@mantine/dates';
import type { UseFormReturnType } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { isHaleError } from '@hale/client';
import type { DraftValues } from './drafts';
import type { FieldSpec } from './kinds';
import { haleErrorText } from '../i18n/error-words';
import { useHaleSession } from '@hale/react';

export type RecordForm = UseFormReturnType<DraftValues>;

const inputId = (name: string): string => `field-${name.replace('.', '-')}`;

/** The date picker's arrows, named (Mantine leaves them unnamed; the level buttons read as their text). */
const CALENDAR_CONTROLS = [
  'previousMonth',
  'nextMonth',
  'previousYear',
  'nextYear',
  'previousDecade',
  'nextDecade',
] as const;
const calendarLabels = (t: TFunction): Record<(typeof CALENDAR_CONTROLS)[number], string> =>
  Object.fromEntries(CALENDAR_CONTROLS.map((c) => [c, t(`calendar.${c}`)])) as Record<
    (typeof CALENDAR_CONTROLS)[number],
    string
  >;

export function FieldInput(props: { readonly field: FieldSpec; readonly form: RecordForm }): ReactNode {
  const { t } = useTranslation();
  const { field, form } = props;
  const label = t(`fields.${field.name}`);
  const common = {
    id: inputId(field.name),
    label,
    withAsterisk: field.required === true,
    key: form.key(field.name),
  };
  const hint = t(`hints.${field.name}`, { defaultValue: '' });
  const description = hint === '' ? undefined : hint;
  switch (field.type) {
    case 'boolean':
      return (
        <Switch
          {...common}
          size="md"
          {...form.getInputProps(field.name, { type: 'checkbox' })}
          description={description}
        />
      );
    case 'textarea':
      return (
        <Textarea
          {...common}
          autosize
          minRows={2}
          maxRows={10}
          {...form.getInputProps(field.name)}
          description={description}
        />
      );
    case 'select': {
      const options = (field.options ?? []).map((value) => ({
        value,
        label: t(`enum.${field.enumName ?? field.name}.${value}`),
      }));
      return (
        <NativeSelect
          {...common}
          data={field.required === true ? options : [{ value: '', label: t('common.notSet') }, ...options]}
          {...form.getInputProps(field.name)}
          description={description}
        />
      );
    }
    case 'date': {
      // An uncontrolled form hands out the starting value (`defaultValue`); the picker keeps what is chosen.
      const props = form.getInputProps(field.name);
      const start: unknown = props.defaultValue ?? props.value;
      const onChange = props.onChange as (value: string) => void;
      return (
        <DateInput
          {...common}
          valueFormat="YYYY-MM-DD"
          placeholder="YYYY-MM-DD"
          clearable
          size="md"
          defaultValue={typeof start === 'string' && start !== '' ? start : null}
          onChange={(next) => onChange(next ?? '')}
          clearButtonProps={{ 'aria-label': t('common.clearField', { field: label }) }}
          ariaLabels={calendarLabels(t)}
          hideOutsideDates
          // The months' and years' grids lay buttons out: tables without headers read as data otherwise.
          attributes={{ monthsList: { role: 'presentation' }, yearsList: { role: 'presentation' } }}
          error={props.error as ReactNode}
          description={description}
        />
      );
    }
    case 'instant':
      return (
        <TextInput
          {...common}
          type="datetime-local"
          {...form.getInputProps(field.name)}
          description={description}
        />
      );
    case 'partialDate':
      return (
        <TextInput
          {...common}
          placeholder={t('hints.partialDatePlaceholder')}
          description={t('hints.partialDate')}
          {...form.getInputProps(field.name)}
        />
      );
    case 'age':
      return (
        <TextInput
          {...common}
          inputMode="numeric"
          description={t('hints.age')}
          {...form.getInputProps(field.name)}
        />
      );
    case 'labValue':
      return <TextInput {...common} description={t('hints.labValue')} {...form.getInputProps(field.name)} />;
    case 'account':
      return <AccountField field={field} form={form} label={label} />;
    case 'times':
      return (
        <TextInput
          {...common}
          placeholder="08:00, 20:00"
          {...form.getInputProps(field.name)}
          description={description}
        />
      );
    case 'text':
      return <TextInput {...common} {...form.getInputProps(field.name)} description={description} />;
  }
}

/** An account id, typed or found in the server's directory of clinicians (online only). */
function AccountField(props: {
  readonly field: FieldSpec;
  readonly form: RecordForm;
  readonly label: string;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { field, form } = props;
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<
    readonly { accountId: string; name: string; detail: string }[] | null
  >(null);
  const [error, setError] = useState<string | null>(null);
  const search = async (): Promise<void> => {
    setError(null);
    try {
      const page = await session.directory.search(query.trim());
      setResults(
        page.providers.map((p) => ({
          accountId: p.profile.accountId,
          name: p.profile.displayName,
          detail: [p.profile.specialty, p.profile.clinic].filter(Boolean).join(' · '),
        })),
      );
    } catch (e) {
      setResults(null);
      setError(
        isHaleError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT')
          ? t('directory.offline')
          : isHaleError(e)
            ? haleErrorText(t, e)
            : String(e),
      );
    }
  };
  return (
    <Stack gap={4}>
      <TextInput
        id={inputId(field.name)}
        label={props.label}
        withAsterisk={field.required === true}
        description={t('hints.account')}
        key={form.key(field.name)}
        {...form.getInputProps(field.name)}
      />
      <Button variant="light" w="fit-content" onClick={() => setOpen(true)}>
        {t('directory.find')}
      </Button>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={open}
        onClose={() => setOpen(false)}
        title={t('directory.title')}
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void search();
          }}
        >
          <Group align="flex-end">
            <TextInput
              label={t('directory.query')}
              value={query}
              onChange={(e) => setQuery(e.currentTarget.value)}
              style={{ flex: 1 }}
              data-autofocus
            />
            <Button type="submit">{t('directory.search')}</Button>
          </Group>
        </form>
        {error !== null && (
          <Text c="red" mt="sm" role="alert">
            {error}
          </Text>
        )}
        <Stack mt="md" gap="xs">
          {results?.length === 0 && <Text c="dimmed">{t('directory.none')}</Text>}
          {results?.map((r) => (
            <UnstyledButton
              key={r.accountId}
              className="hale-row-link"
              p="sm"
              onClick={() => {
                form.setFieldValue(field.name, r.accountId);
                setOpen(false);
              }}
            >
              <Text fw={600}>{r.name}</Text>
              <Text size="sm" c="dimmed">
                {r.detail || r.accountId}
              </Text>
            </UnstyledButton>
          ))}
        </Stack>
      </Modal>
    </Stack>
  );
}
