/**
 * The directory profile (`/workspace/profile`): how patients find this clinician (name, specialty, clinic,
 * professional identifier, contact), published signed by this account's key (`directory.publishProfile`);
 * patients compare the key's fingerprint before a first grant, so the fingerprint is shown here too.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Code, Group, Paper, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { isHaleError } from '@hale/client';
import { useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { errorText } from '../ui';
import { rememberClinician } from '../people';
import { readMyProfile, writeMyProfile, type PublishedProfile } from './my-profile';

const EMPTY: PublishedProfile = { displayName: '', specialty: '', clinic: '', identifier: '', contact: '' };
const FIELDS = ['displayName', 'specialty', 'clinic', 'identifier', 'contact'] as const;

export function ProfileScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const [values, setValues] = useState<PublishedProfile>(() => readMyProfile(me) ?? EMPTY);
  const [error, setError] = useState<{ text: string; field?: string } | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const [fingerprint, setFingerprint] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    session.directory.search(values.displayName === '' ? me : values.displayName).then(
      (page) => {
        const mine = page.providers.find((p) => p.profile.accountId === me);
        if (live && mine !== undefined) setFingerprint(mine.fingerprint);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [session, me, done]);
  const publish = async (): Promise<void> => {
    setError(null);
    setDone(false);
    if (values.displayName.trim() === '') {
      setError({ text: t('fieldError.required'), field: 'displayName' });
      return;
    }
    setBusy(true);
    try {
      const profile = {
        displayName: values.displayName.trim(),
        specialty: values.specialty.trim(),
        clinic: values.clinic.trim(),
        identifier: values.identifier.trim(),
        ...((values.contact ?? '').trim() === '' ? {} : { contact: (values.contact ?? '').trim() }),
      };
      await session.directory.publishProfile(profile);
      writeMyProfile(me, profile);
      rememberClinician(me, profile.displayName);
      setDone(true);
    } catch (e) {
      setError({
        text: errorText(t, e),
        ...(isHaleError(e) && e.field !== undefined ? { field: e.field } : {}),
      });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack maw={820}>
      <PageHeader title={t('workspace.profile.title')} />
      <Text size="sm" c="dimmed">
        {t('workspace.profile.explain')}
      </Text>
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void publish();
          }}
        >
          <Stack>
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {FIELDS.map((f) => (
                <TextInput
                  key={f}
                  id={`profile-${f}`}
                  label={t(`workspace.profile.${f}`)}
                  description={t(`workspace.profile.hint.${f}`)}
                  withAsterisk={f === 'displayName'}
                  value={values[f] ?? ''}
                  onChange={(e) => setValues({ ...values, [f]: e.currentTarget.value })}
                  error={error?.field === f ? error.text : undefined}
                />
              ))}
            </SimpleGrid>
            {error !== null && error.field === undefined && (
              <Alert color="red" role="alert" title={t('workspace.profile.notPublished')}>
                {error.text}
              </Alert>
            )}
            {done && (
              <Alert color="teal" role="status" data-testid="profile-published">
                {t('workspace.profile.published')}
              </Alert>
            )}
            <Group justify="flex-end">
              <Button type="submit" loading={busy}>
                {t('workspace.profile.publish')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <Paper withBorder p="md">
        <Stack gap={4}>
          <Text fw={600}>{t('workspace.profile.fingerprint')}</Text>
          <Text size="sm" c="dimmed">
            {t('workspace.profile.fingerprintExplain')}
          </Text>
          <Code block data-testid="fingerprint">
            {fingerprint ?? t('workspace.profile.fingerprintUnknown')}
          </Code>
        </Stack>
      </Paper>
    </Stack>
  );
}
