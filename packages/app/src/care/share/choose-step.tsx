/**
 * Sharing, step 1: the clinician. Found in the directory (signed profiles, checked on this device) or from
 * an invite: scanned (camera or photo), pasted, or opened as a link (`?invite=`). An invite carries the
 * clinician's key fingerprint, so accepting it checks the key the server presents and pins it: no
 * separate comparison is needed.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Group,
  Loader,
  Stack,
  Tabs,
  Text,
  Textarea,
  TextInput,
  UnstyledButton,
} from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useProviderSearch, useHaleSession } from '@hale/react';
import { careErrorText } from '../errors';
import { rememberProfiles, type Profile } from '../people';
import { QrReader } from './qr';
import { inviteIn } from './invite';

export interface Chosen {
  readonly accountId: string;
  /** The invite checked the key (and pinned it). */
  readonly fromInvite: boolean;
}

export function ChooseStep(props: {
  readonly invite: string | null;
  readonly onChosen: (chosen: Chosen) => void;
}): ReactNode {
  const { t } = useTranslation();
  const [tab, setTab] = useState<string | null>(props.invite === null ? 'directory' : 'invite');
  return (
    <Tabs value={tab} onChange={setTab} keepMounted={false}>
      <Tabs.List>
        <Tabs.Tab value="directory">{t('care.share.directoryTab')}</Tabs.Tab>
        <Tabs.Tab value="invite">{t('care.share.inviteTab')}</Tabs.Tab>
      </Tabs.List>
      <Tabs.Panel value="directory" pt="md">
        <DirectorySearch onChosen={props.onChosen} />
      </Tabs.Panel>
      <Tabs.Panel value="invite" pt="md">
        <InviteEntry initial={props.invite} onChosen={props.onChosen} />
      </Tabs.Panel>
    </Tabs>
  );
}

function DirectorySearch(props: { readonly onChosen: (chosen: Chosen) => void }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [typed, setTyped] = useState('');
  const [query, setQuery] = useState('');
  const [results, more] = useProviderSearch(query, { limit: 20 });
  useEffect(() => {
    if (results.providers.length > 0)
      rememberProfiles(
        session,
        results.providers.map((p) => p.profile),
      );
  }, [results.providers, session]);
  const pick = (p: Profile): void => props.onChosen({ accountId: p.accountId, fromInvite: false });
  return (
    <Stack>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(typed.trim());
        }}
      >
        <Group align="flex-end" wrap="nowrap">
          <TextInput
            label={t('care.share.searchLabel')}
            description={t('care.share.searchHint')}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Button type="submit" leftSection={<IconSearch size={16} />}>
            {t('care.share.search')}
          </Button>
        </Group>
      </form>
      {results.status === 'searching' && <Loader size="sm" aria-label={t('common.loading')} />}
      {results.status === 'failed' && (
        <Alert color="orange" role="alert">
          {careErrorText(t, results.error)}
        </Alert>
      )}
      {query !== '' && results.status === 'done' && results.providers.length === 0 && (
        <Text c="dimmed">{t('care.share.noneFound')}</Text>
      )}
      {results.dropped > 0 && (
        <Alert color="orange">{t('care.share.dropped', { count: results.dropped })}</Alert>
      )}
      <Stack
        gap={4}
        component="ul"
        aria-label={t('care.share.results')}
        style={{ listStyle: 'none', margin: 0, padding: 0 }}
      >
        {results.providers.map((p) => (
          <li key={p.profile.accountId}>
            <UnstyledButton
              className="hale-row-link"
              p="sm"
              w="100%"
              style={{ borderRadius: 8, border: '1px solid var(--mantine-color-default-border)' }}
              onClick={() => pick(p.profile)}
            >
              <Text fw={650}>{p.profile.displayName}</Text>
              <Text size="sm" c="dimmed">
                {[p.profile.specialty, p.profile.clinic].filter(Boolean).join(' · ')}
              </Text>
            </UnstyledButton>
          </li>
        ))}
      </Stack>
      {results.hasMore && results.status === 'done' && query !== '' && (
        <Button variant="subtle" w="fit-content" onClick={more}>
          {t('care.share.more')}
        </Button>
      )}
    </Stack>
  );
}

function InviteEntry(props: {
  readonly initial: string | null;
  readonly onChosen: (chosen: Chosen) => void;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [text, setText] = useState(props.initial ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { onChosen } = props;
  const tried = useRef(false);

  const use = async (value: string): Promise<void> => {
    setError(null);
    const invite = inviteIn(value);
    if (invite === null) {
      setError(t('care.error.BAD_INVITE'));
      return;
    }
    setBusy(true);
    try {
      const accepted = await session.consent.acceptInvite(invite);
      onChosen({ accountId: accepted.accountId, fromInvite: true });
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    // A link opened with an invite in it: checked at once (it only pins a key that matches it).
    if (props.initial !== null && !tried.current) {
      tried.current = true;
      void use(props.initial);
    }
  });

  return (
    <Stack>
      <Text size="sm">{t('care.share.inviteExplain')}</Text>
      <QrReader
        testId="invite-reader"
        onText={(scanned) => {
          setText(scanned);
          void use(scanned);
        }}
      />
      <Textarea
        label={t('care.share.pasteLabel')}
        description={t('care.share.pasteHint')}
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        autosize
        minRows={2}
      />
      {error !== null && (
        <Alert color="red" role="alert" title={t('care.share.inviteRefused')}>
          {error}
        </Alert>
      )}
      <Button w="fit-content" loading={busy} onClick={() => void use(text)}>
        {t('care.share.useInvite')}
      </Button>
    </Stack>
  );
}
