// The frame of the screens before the chart opens: the app's name, the language, and the content.
import type { ReactNode } from 'react';
import { Box, Container, Group, NativeSelect, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useApp } from '../../boot/app-state';
import { LANGUAGES, type Language } from '../../boot/settings';

export function StartFrame(props: { readonly children: ReactNode }): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  return (
    <Box mih="100dvh" bg="var(--mantine-color-body)">
      <Container size="md" py={{ base: 'md', sm: 'xl' }}>
        <Group justify="space-between" mb="xl" className="hale-no-print">
          <Group gap={8}>
            <img src="/favicon.svg" alt="" width={32} height={32} />
            <Title order={2} size="h3">
              Hale
            </Title>
          </Group>
          <NativeSelect
            aria-label={t('settings.language')}
            size="sm"
            value={app.settings.language}
            data={LANGUAGES.map((l) => ({ value: l, label: t(`languages.${l}`) }))}
            onChange={(e) => {
              const language = LANGUAGES.find((l) => l === e.currentTarget.value);
              if (language !== undefined) app.updateSettings({ language: language satisfies Language });
            }}
          />
        </Group>
        <main>{props.children}</main>
      </Container>
    </Box>
  );
}
