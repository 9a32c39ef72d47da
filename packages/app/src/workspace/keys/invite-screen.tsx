/**
 * Invite a patient (`/workspace/invite`): this clinician's invite (`consent.invite()`: account and key
 * fingerprint) as a QR code of the link that opens it in Hale, the link to send, and a poster to print for
 * a clinic's front desk (poster.css: only the poster is printed). A patient who scans or pastes it needs no
 * comparison: their Hale checks the key the server presents against the fingerprint in the invite.
 * Without a published profile the patient would see no name: the screen says so and links to it.
 */
import type { ReactNode } from 'react';
import {
  Alert,
  Anchor,
  Button,
  Code,
  CopyButton,
  Group,
  List,
  Paper,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { IconCheck, IconCopy, IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { QrImage } from '../../care/share/qr';
import { inviteLink } from '../../care/share/invite';
import { readMyProfile } from '../profile/my-profile';
import './poster.css';

export function InviteScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const profile = readMyProfile(session.account.accountId);
  const link = inviteLink(location.origin, session.consent.invite());
  const name = profile?.displayName ?? t('workspace.invite.you');

  return (
    <Stack maw={880}>
      <div className="hale-no-print">
        <PageHeader
          title={t('workspace.invite.title')}
          back="/workspace/patients"
          actions={
            <Button leftSection={<IconPrinter size={18} />} variant="light" onClick={() => window.print()}>
              {t('workspace.invite.print')}
            </Button>
          }
        />
      </div>
      <Text className="hale-no-print">{t('workspace.invite.explain')}</Text>
      {profile === null && (
        <Alert color="orange" className="hale-no-print" title={t('workspace.invite.noProfileTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('workspace.invite.noProfile')}</Text>
            <Button component={Link} to="/workspace/profile" size="sm" variant="default">
              {t('workspace.home.publishProfile')}
            </Button>
          </Stack>
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'xl' }} className="hale-poster" data-testid="invite-poster">
        <Stack gap="md" align="flex-start">
          <div>
            <Title order={2} className="hale-poster-title">
              {t('workspace.invite.posterTitle', { name })}
            </Title>
            {profile !== null && (
              <Text c="dimmed">{[profile.specialty, profile.clinic].filter(Boolean).join(' · ')}</Text>
            )}
          </div>
          <div className="hale-poster-qr" data-testid="invite-qr">
            <QrImage text={link} label={t('workspace.invite.qrLabel', { name })} size={260} />
          </div>
          <List type="ordered" spacing="xs" className="hale-poster-steps">
            <List.Item>{t('workspace.invite.step1')}</List.Item>
            <List.Item>{t('workspace.invite.step2', { name })}</List.Item>
            <List.Item>{t('workspace.invite.step3', { name })}</List.Item>
          </List>
          <Text size="xs" c="dimmed" ff="monospace" className="hale-poster-link">
            {link}
          </Text>
        </Stack>
      </Paper>
      <Paper withBorder p="md" className="hale-no-print">
        <Stack gap="xs">
          <Title order={2} size="h4">
            {t('workspace.invite.linkTitle')}
          </Title>
          <Text size="sm" c="dimmed">
            {t('workspace.invite.linkExplain')}
          </Text>
          <Code
            block
            data-testid="invite-link"
            className="hale-poster-link"
            style={{ whiteSpace: 'pre-wrap' }}
          >
            {link}
          </Code>
          <Group>
            <CopyButton value={link}>
              {({ copied, copy }) => (
                <Button
                  variant="light"
                  leftSection={copied ? <IconCheck size={18} /> : <IconCopy size={18} />}
                  onClick={copy}
                >
                  {copied ? t('workspace.invite.copied') : t('workspace.invite.copy')}
                </Button>
              )}
            </CopyButton>
            <Anchor component={Link} to="/workspace/check" size="sm">
              {t('workspace.keys.checkTitle')}
            </Anchor>
          </Group>
        </Stack>
      </Paper>
    </Stack>
  );
}
