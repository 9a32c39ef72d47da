/**
 * Clinicians by name: the directory's signed profiles seen in this page (searches, this account's own
 * profile, and the directory read by `useClinicianNames` for the accounts a screen names), kept in memory
 * only, so a co-sign request or an appointment can say who; otherwise a short account id. And a finder
 * over the directory for choosing a clinician.
 */
import { useState, type ReactNode } from 'react';
import { Button, Group, Stack, Text, TextInput, UnstyledButton } from '@mantine/core';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useHaleSession } from '@hale/react';
import { shortId } from '../records/format';
import { useDirectoryNames } from '../care/people';
import { errorText } from './ui';

const names = new Map<string, string>();

export const rememberClinician = (accountId: string, name: string): void => {
  names.set(accountId, name);
};

/**
 * Looks the accounts up in the directory (in the background; offline, the short ids stay) so that
 * `clinicianName` names them: the calling screen renders again when their names arrive.
 */
export function useClinicianNames(ids: readonly (string | undefined)[]): void {
  const found = useDirectoryNames(ids.filter((id): id is string => id !== undefined));
  for (const [id, name] of found) names.set(id, name);
}

export const clinicianName = (t: TFunction, accountId: string, me: string): string =>
  accountId === me
    ? t('common.you')
    : (names.get(accountId) ?? t('workspace.people.clinician', { id: shortId(accountId) }));

export interface FoundClinician {
  readonly accountId: string;
  readonly name: string;
  readonly detail: string;
}

/** A search over the directory; `onPick` gets the clinician chosen. Online only (said when offline). */
export function ClinicianFinder(props: {
  readonly onPick: (c: FoundClinician) => void;
  readonly exclude?: string;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<readonly FoundClinician[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = async (): Promise<void> => {
    setError(null);
    setBusy(true);
    try {
      const page = await session.directory.search(query.trim());
      const found = page.providers
        .filter((p) => p.profile.accountId !== props.exclude)
        .map((p) => {
          rememberClinician(p.profile.accountId, p.profile.displayName);
          return {
            accountId: p.profile.accountId,
            name: p.profile.displayName,
            detail: [p.profile.specialty, p.profile.clinic].filter(Boolean).join(' · '),
          };
        });
      setResults(found);
    } catch (e) {
      setResults(null);
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <Group align="flex-end" gap="xs">
          <TextInput
            label={t('directory.query')}
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 180 }}
          />
          <Button type="submit" loading={busy}>
            {t('directory.search')}
          </Button>
        </Group>
      </form>
      {error !== null && (
        <Text c="red" size="sm" role="alert">
          {error}
        </Text>
      )}
      {results?.length === 0 && <Text c="dimmed">{t('directory.none')}</Text>}
      {results?.map((r) => (
        <UnstyledButton
          key={r.accountId}
          className="hale-row-link"
          p="sm"
          style={{ borderRadius: 8 }}
          onClick={() => props.onPick(r)}
          aria-label={t('workspace.people.choose', { name: r.name })}
        >
          <Text fw={600}>{r.name}</Text>
          <Text size="sm" c="dimmed">
            {r.detail || shortId(r.accountId)}
          </Text>
        </UnstyledButton>
      ))}
    </Stack>
  );
}
