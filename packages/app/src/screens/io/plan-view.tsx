/**
 * What an import will do (the plan) or did (the report), as a person reads it: records by kind, and the
 * grouped lists of duplicates, what is not imported and why (open from the start), what is read into another record, and the
 * details records do not keep. The model's reasons are its own sentences.
 */
import type { ReactNode } from 'react';
import { Accordion, Anchor, Badge, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { ImportListing, RecordKind } from '@hale/model';
import { countByKind, groupListings, kindTitleKey, notKeptGroups, type ListingGroup } from './plan-groups';

export interface PlanLike {
  readonly records: readonly {
    readonly kind: RecordKind;
    readonly resourceType: string;
    readonly notKept: readonly string[];
  }[];
  readonly duplicates: readonly ImportListing[];
  readonly skipped: readonly ImportListing[];
  readonly absorbed: readonly ImportListing[];
}

function Groups(props: { readonly groups: readonly ListingGroup[]; readonly label: string }): ReactNode {
  return (
    <Stack gap={0} role="list" aria-label={props.label}>
      {props.groups.map((g, i) => (
        <Stack
          key={`${g.resourceType}|${g.reason}`}
          gap={2}
          py={8}
          role="listitem"
          style={i === 0 ? undefined : { borderTop: '1px solid var(--mantine-color-default-border)' }}
        >
          <Group gap="xs" wrap="nowrap">
            <Text fw={600} style={{ overflowWrap: 'anywhere' }}>
              {g.resourceType}
            </Text>
            <Badge variant="light" color="gray" style={{ flexShrink: 0 }}>
              {g.count}
            </Badge>
          </Group>
          <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
            {g.reason}
          </Text>
        </Stack>
      ))}
    </Stack>
  );
}

export function PlanView(props: { readonly plan: PlanLike; readonly done: boolean }): ReactNode {
  const { t } = useTranslation();
  const { plan, done } = props;
  const kinds = countByKind(plan.records);
  const skipped = groupListings(plan.skipped);
  const absorbed = groupListings(plan.absorbed);
  const duplicates = groupListings(plan.duplicates.map((d) => ({ ...d, reason: '' })));
  const notKept = notKeptGroups(plan.records);
  return (
    <Stack>
      <Paper withBorder p="md" data-testid="import-kinds">
        <Title order={2} size="h4" mb="xs">
          {done
            ? t('importer.importedCount', { count: plan.records.length })
            : t('importer.willImport', { count: plan.records.length })}
        </Title>
        {kinds.length === 0 ? (
          <Text c="dimmed">{t('importer.nothingNew')}</Text>
        ) : (
          <Table verticalSpacing={6} aria-label={t('importer.byKind')}>
            <Table.Tbody>
              {kinds.map((k) => (
                <Table.Tr key={k.kind}>
                  <Table.Td>
                    {done && k.slug !== undefined ? (
                      <Anchor component={Link} to={`/chart/${k.slug}`} fw={600}>
                        {t(kindTitleKey(k.kind))}
                      </Anchor>
                    ) : (
                      <Text fw={600}>{t(kindTitleKey(k.kind))}</Text>
                    )}
                  </Table.Td>
                  <Table.Td ta="right" data-testid={`import-count-${k.kind}`}>
                    {k.count}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
      <Accordion variant="separated" multiple defaultValue={skipped.length > 0 ? ['skipped'] : []}>
        <Accordion.Item value="duplicates">
          <Accordion.Control>
            <Group gap="xs">
              <Text fw={600}>{t('importer.duplicates')}</Text>
              <Badge variant="light" color="gray" data-testid="import-duplicates">
                {plan.duplicates.length}
              </Badge>
            </Group>
          </Accordion.Control>
          <Accordion.Panel>
            <Text size="sm" c="dimmed" mb="xs">
              {t('importer.duplicatesExplain')}
            </Text>
            {duplicates.length > 0 && (
              <Table verticalSpacing={4} aria-label={t('importer.duplicates')}>
                <Table.Tbody>
                  {duplicates.map((g) => (
                    <Table.Tr key={g.resourceType}>
                      <Table.Td fw={600}>{g.resourceType}</Table.Td>
                      <Table.Td ta="right">{g.count}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="skipped">
          <Accordion.Control>
            <Group gap="xs">
              <Text fw={600}>{t('importer.notImported')}</Text>
              <Badge variant="light" color="orange" data-testid="import-skipped">
                {plan.skipped.length}
              </Badge>
            </Group>
          </Accordion.Control>
          <Accordion.Panel>
            <Text size="sm" c="dimmed" mb="xs">
              {t('importer.notImportedExplain')}
            </Text>
            {skipped.length > 0 && <Groups groups={skipped} label={t('importer.notImported')} />}
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="absorbed">
          <Accordion.Control>
            <Group gap="xs">
              <Text fw={600}>{t('importer.absorbed')}</Text>
              <Badge variant="light" color="gray">
                {plan.absorbed.length}
              </Badge>
            </Group>
          </Accordion.Control>
          <Accordion.Panel>
            <Text size="sm" c="dimmed" mb="xs">
              {t('importer.absorbedExplain')}
            </Text>
            {absorbed.length > 0 && <Groups groups={absorbed} label={t('importer.absorbed')} />}
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="notKept">
          <Accordion.Control>
            <Group gap="xs">
              <Text fw={600}>{t('importer.notKept')}</Text>
              <Badge variant="light" color="gray">
                {notKept.reduce((n, g) => n + g.count, 0)}
              </Badge>
            </Group>
          </Accordion.Control>
          <Accordion.Panel>
            <Text size="sm" c="dimmed" mb="xs">
              {t('importer.notKeptExplain')}
            </Text>
            {notKept.length > 0 && (
              <Table verticalSpacing={4} aria-label={t('importer.notKept')}>
                <Table.Tbody>
                  {notKept.map((g) => (
                    <Table.Tr key={g.element}>
                      <Table.Td style={{ overflowWrap: 'anywhere' }}>{g.element}</Table.Td>
                      <Table.Td ta="right">{g.count}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Accordion.Panel>
        </Accordion.Item>
      </Accordion>
    </Stack>
  );
}
