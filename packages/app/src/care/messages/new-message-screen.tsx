/**
 * A new conversation (`/care/messages/new`, `?to=<account>`, `&about=<text>`: the message starts with it, as
 * a request for a correction does): whom to write to (a patient: the clinicians it
 * shares its messages with; a clinician: the patients who let it write to them), then the message. With
 * nobody to write to, says why and where to change that.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, NativeSelect, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useGrants, useGrantsReceived, useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { usePersonName } from '../people';
import { Composer } from './composer';
import { MESSAGES, threadPath } from './paths';
import { clinicianRecipients, patientRecipients, type Recipient } from './recipients';

export function NewMessageScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const provider = session.account.role === 'provider';
  const grants = useGrants();
  const received = useGrantsReceived();
  const recipients = provider ? patientRecipients(received) : clinicianRecipients(grants);
  const [to, setTo] = useState(params.get('to') ?? '');
  const chosen = recipients.find((r) => r.accountId === to) ?? recipients[0];

  return (
    <Stack maw={760}>
      <PageHeader title={t('care.messages.new')} back={MESSAGES} />
      {recipients.length === 0 ? (
        <Alert color="blue" title={t('care.messages.nobodyTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{provider ? t('care.messages.nobodyProvider') : t('care.messages.nobody')}</Text>
            {!provider && (
              <Button component={Link} to="/care/sharing/new" size="xs">
                {t('care.sharing.new')}
              </Button>
            )}
          </Stack>
        </Alert>
      ) : (
        <>
          <RecipientSelect recipients={recipients} value={chosen?.accountId ?? ''} onChange={setTo} />
          {chosen !== undefined && !chosen.canReply && (
            <Alert color="yellow">{t('care.messages.cannotReply')}</Alert>
          )}
          {chosen !== undefined && (
            <Composer
              key={chosen.accountId}
              to={chosen.accountId}
              label={t('care.messages.message')}
              {...(params.get('about') === null ? {} : { initial: params.get('about') ?? '' })}
              onSent={(m) => void navigate(threadPath(m.patientId, m.threadId), { replace: true })}
            />
          )}
        </>
      )}
    </Stack>
  );
}

function RecipientSelect(props: {
  readonly recipients: readonly Recipient[];
  readonly value: string;
  readonly onChange: (id: string) => void;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <NativeSelect
      id="message-to"
      label={t('care.messages.to')}
      value={props.value}
      onChange={(e) => props.onChange(e.currentTarget.value)}
    >
      {props.recipients.map((r) => (
        <RecipientOption key={r.accountId} accountId={r.accountId} />
      ))}
    </NativeSelect>
  );
}

function RecipientOption(props: { readonly accountId: string }): ReactNode {
  return <option value={props.accountId}>{usePersonName(props.accountId)}</option>;
}
