// The first screen on a device with no account: create one, or add this device to an existing one.
import type { ReactNode } from 'react';
import { Button, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconDeviceMobilePlus, IconUserPlus } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'react-router';
import { StartFrame } from './start-frame';

export function StartScreen(): ReactNode {
  const { t } = useTranslation();
  const { search } = useLocation();
  return (
    <StartFrame>
      <Stack gap="lg">
        <div>
          <Title order={1}>{t('start.title')}</Title>
          <Text c="dimmed" mt="xs">
            {t('start.intro')}
          </Text>
        </div>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Paper withBorder p="lg">
            <Stack align="flex-start">
              <IconUserPlus size={28} aria-hidden />
              <Title order={2} size="h4">
                {t('start.createTitle')}
              </Title>
              <Text size="sm" c="dimmed">
                {t('start.createBody')}
              </Text>
              <Button component={Link} to={`/start/create${search}`}>
                {t('start.create')}
              </Button>
            </Stack>
          </Paper>
          <Paper withBorder p="lg">
            <Stack align="flex-start">
              <IconDeviceMobilePlus size={28} aria-hidden />
              <Title order={2} size="h4">
                {t('start.joinTitle')}
              </Title>
              <Text size="sm" c="dimmed">
                {t('start.joinBody')}
              </Text>
              <Button component={Link} to={`/start/join${search}`} variant="default">
                {t('start.join')}
              </Button>
            </Stack>
          </Paper>
        </SimpleGrid>
        <Text size="sm" c="dimmed">
          {t('start.privacy')}
        </Text>
      </Stack>
    </StartFrame>
  );
}
