/**
 * Share a summary with anyone (`/records/share`): a SMART Health Link to the patient summary (all of it or
 * the kinds chosen), encrypted on this device with a key that lives only in the link, with a label, an
 * expiry, an optional passcode (the server allows three wrong tries, then locks the link), and optionally
 * one-time (the server revokes it at its first opening). Made, it
 * shows once as a QR and an address; the list below shows every shared link with its accesses, and
 * revokes one.
 *
 * Invariants: the form keeps what was typed when the server refuses or is away; the passcode is checked
 * against the server's rule (4–64 characters) before asking; the passcode is never put in the link.
 */
import { useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  Group,
  NativeSelect,
  Paper,
  PasswordInput,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconLink } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { CreatedLink } from '@hale/client';
import type { RecordKind } from '@hale/model';
import { formatDate } from '../../records/format';
import { slugOfKind } from '../../records/kinds';
import { PageHeader } from '../../ui/page-header';
import { FailureAlert } from './failure-alert';
import { ioFailure, type IoFailure } from './io-errors';
import { LinkList } from './link-list';
import { LinkQr } from './link-qr';
import { EXPIRY_DAYS, expiresAtOf, passcodeProblem, type ExpiryChoice } from './link-status';
import { useHaleSession } from '@hale/react';

/** The summary's kinds a person chooses among (the patient's identity always goes). */
export const SHAREABLE_KINDS = [
  'Allergy',
  'Medication',
  'Condition',
  'Immunization',
  'LabResult',
  'Procedure',
] as const satisfies readonly RecordKind[];

const MAX_LABEL = 80;

export function ShareScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [label, setLabel] = useState('');
  const [kinds, setKinds] = useState<readonly string[]>(SHAREABLE_KINDS);
  const [expiry, setExpiry] = useState<string>('30');
  const [passcode, setPasscode] = useState('');
  const [oneTime, setOneTime] = useState(false);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  const [created, setCreated] = useState<{ link: CreatedLink; passcode: boolean } | null>(null);
  const [made, setMade] = useState(0);

  const problem = passcodeProblem(passcode);
  const labelTooLong = label.trim().length > MAX_LABEL;
  const noKinds = kinds.length === 0;

  const submit = async (): Promise<void> => {
    setTried(true);
    if (problem !== null || labelTooLong || noKinds) return;
    setBusy(true);
    setFailure(null);
    try {
      const days: ExpiryChoice = EXPIRY_DAYS.find((d) => String(d) === expiry) ?? null;
      const expiresAt = expiresAtOf(days, Date.now());
      const link = await session.io.shareSummary({
        kinds: SHAREABLE_KINDS.filter((k) => kinds.includes(k)),
        ...(label.trim() === '' ? {} : { label: label.trim() }),
        ...(passcode === '' ? {} : { passcode }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(oneTime ? { oneTime: true } : {}),
      });
      setCreated({ link, passcode: passcode !== '' });
      setLabel('');
      setPasscode('');
      setOneTime(false);
      setTried(false);
      setMade((n) => n + 1);
    } catch (e) {
      setFailure(ioFailure(t, e));
    } finally {
      setBusy(false);
    }
  };

  const expiryLabel = (d: ExpiryChoice): string =>
    d === null ? t('share.expiryNever') : t('share.expiryDays', { count: d });

  return (
    <Stack maw={900}>
      <PageHeader title={t('share.title')} />
      <Text c="dimmed" size="sm">
        {t('share.explain')}
      </Text>
      {created !== null && (
        <Paper withBorder p="md" data-testid="link-created">
          <Stack>
            <Title order={2} size="h4">
              {t('share.createdTitle', { label: created.link.info.label ?? t('share.untitled') })}
            </Title>
            <LinkQr
              url={created.link.viewerUrl}
              qrLabel={t('share.qrLabel')}
              fileName={`hale-link-${created.link.info.createdAt.slice(0, 10)}.png`}
              testId="link-qr"
            />
            <Alert color="yellow" variant="light">
              <Stack gap={4}>
                <Text size="sm">{t('share.onceOnly')}</Text>
                {created.passcode && <Text size="sm">{t('share.tellPasscode')}</Text>}
                <Text size="sm">
                  {created.link.info.expiresAt === undefined
                    ? t('share.noExpiry')
                    : t('share.expires', { when: formatDate(created.link.info.expiresAt) })}
                </Text>
              </Stack>
            </Alert>
            <Button variant="default" w="fit-content" onClick={() => setCreated(null)}>
              {t('share.doneWithLink')}
            </Button>
          </Stack>
        </Paper>
      )}
      <Paper withBorder p="md">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
          noValidate
        >
          <Stack>
            <Title order={2} size="h4">
              {t('share.new')}
            </Title>
            <TextInput
              label={t('share.label')}
              description={t('share.labelHint')}
              value={label}
              onChange={(e) => setLabel(e.currentTarget.value)}
              error={labelTooLong ? t('share.labelTooLong', { max: MAX_LABEL }) : undefined}
              maw={480}
            />
            <Checkbox.Group
              label={t('share.kinds')}
              description={t('share.kindsHint')}
              value={[...kinds]}
              onChange={setKinds}
              error={tried && noKinds ? t('share.noKinds') : undefined}
            >
              <SimpleGrid cols={{ base: 1, xs: 2, sm: 3 }} mt="xs" spacing="xs">
                {SHAREABLE_KINDS.map((k) => (
                  <Checkbox key={k} value={k} label={t(`kinds.${slugOfKind(k) ?? 'labs'}.title`)} />
                ))}
              </SimpleGrid>
            </Checkbox.Group>
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <NativeSelect
                label={t('share.expiry')}
                value={expiry}
                onChange={(e) => setExpiry(e.currentTarget.value)}
                data={EXPIRY_DAYS.map((d) => ({ value: String(d), label: expiryLabel(d) }))}
              />
              <PasswordInput
                label={t('share.passcode')}
                description={t('share.passcodeHint')}
                value={passcode}
                onChange={(e) => setPasscode(e.currentTarget.value)}
                autoComplete="new-password"
                error={
                  tried && problem === 'short'
                    ? t('share.passcodeShort')
                    : tried && problem === 'long'
                      ? t('share.passcodeLong')
                      : undefined
                }
              />
            </SimpleGrid>
            <Checkbox
              label={t('share.oneTime')}
              description={t('share.oneTimeHint')}
              checked={oneTime}
              onChange={(e) => setOneTime(e.currentTarget.checked)}
            />
            {failure !== null && <FailureAlert failure={failure} title={t('share.failedTitle')} />}
            <Group>
              <Button type="submit" loading={busy} leftSection={<IconLink size={18} />}>
                {t('share.create')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <Title order={2} size="h3" mt="md">
        {t('share.yourLinks')}
      </Title>
      <Text size="sm" c="dimmed">
        {t('share.historyNote')}
      </Text>
      <LinkList emergency={false} reload={made} />
    </Stack>
  );
}
