/**
 * Sharing (`/care/sharing`): the grants this account gave, in force first (active, ending soon, not yet
 * started), then those ended (revoked, expired) with how far their re-keying got; a way to share anew;
 * above them, each co-signature that waits for the patient's permission (cosign-share-screen.tsx).
 * The list is the library's `consent.grants` (read again after every grant and revoke, and every minute).
 */
import type { ReactNode } from 'react';
import { Button, Paper, Stack, Text, Title } from '@mantine/core';
import { IconShare } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useGrants } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { GrantCard } from './grant-card';
import { inForce } from './grant-state';
import { CosignAsks } from './cosign-share-screen';

export function SharingScreen(): ReactNode {
  const { t } = useTranslation();
  const grants = useGrants();
  const byEnd = [...grants].sort((a, b) => (a.grant.expiresAt < b.grant.expiresAt ? -1 : 1));
  const current = byEnd.filter(inForce);
  const ended = byEnd.filter((g) => !inForce(g)).reverse();
  return (
    <Stack>
      <PageHeader
        title={t('care.sharing.title')}
        actions={
          <Button component={Link} to="/care/sharing/new" leftSection={<IconShare size={18} />}>
            {t('care.sharing.new')}
          </Button>
        }
      />
      <Text c="dimmed" size="sm" maw={720}>
        {t('care.sharing.intro')}
      </Text>
      <CosignAsks />
      <Stack gap="sm" component="section" aria-labelledby="grants-current">
        <Title order={2} size="h4" id="grants-current">
          {t('care.sharing.current')}
        </Title>
        {current.length === 0 ? (
          <Paper withBorder p="lg">
            <Text c="dimmed">{t('care.sharing.none')}</Text>
          </Paper>
        ) : (
          current.map((g) => <GrantCard key={g.grant.grantId} grant={g} />)
        )}
      </Stack>
      {ended.length > 0 && (
        <Stack gap="sm" component="section" aria-labelledby="grants-ended">
          <Title order={2} size="h4" id="grants-ended">
            {t('care.sharing.ended')}
          </Title>
          {ended.map((g) => (
            <GrantCard key={g.grant.grantId} grant={g} />
          ))}
        </Stack>
      )}
    </Stack>
  );
}
