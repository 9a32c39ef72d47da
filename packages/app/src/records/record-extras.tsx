/**
 * What a record's detail screen shows beside its form fields, when the record has it: the codes a source
 * system sent (SNOMED CT, LOINC, RxNorm, CVX, ICD-10…), a result's parts (a blood pressure's values), and
 * where an imported record came from (its origin: the source, the resource there, when it was imported).
 */
import type { ReactNode } from 'react';
import { Badge, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { IconFileImport } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { formatDate } from './format';

const SYSTEMS: Readonly<Record<string, string>> = {
  'http://snomed.info/sct': 'SNOMED CT',
  'http://loinc.org': 'LOINC',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm',
  'http://hl7.org/fhir/sid/cvx': 'CVX',
  'http://hl7.org/fhir/sid/icd-10': 'ICD-10',
  'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM',
  'http://www.ama-assn.org/go/cpt': 'CPT',
  'http://unitsofmeasure.org': 'UCUM',
};

const obj = (v: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const shown = (v: unknown): string | undefined =>
  typeof v === 'number' ? String(v) : typeof v === 'string' ? v : undefined;

function Label(props: { readonly children: ReactNode }): ReactNode {
  return (
    <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
      {props.children}
    </Text>
  );
}

export function RecordExtras(props: { readonly record: Readonly<Record<string, unknown>> }): ReactNode {
  const { t } = useTranslation();
  const { record } = props;
  const codes = (Array.isArray(record['codes']) ? record['codes'] : [])
    .map(obj)
    .filter((c) => c !== undefined);
  const parts = (Array.isArray(record['components']) ? record['components'] : [])
    .map(obj)
    .filter((c) => c !== undefined);
  const origin = obj(record['origin']);
  if (codes.length === 0 && parts.length === 0 && origin === undefined) return null;
  return (
    <>
      {parts.length > 0 && (
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="xs">
            {t('extras.components')}
          </Title>
          <Table verticalSpacing={4} data-testid="record-components">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('fields.testName')}</Table.Th>
                <Table.Th>{t('fields.value')}</Table.Th>
                <Table.Th>{t('fields.referenceRange')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {parts.map((c, i) => (
                <Table.Tr key={i}>
                  <Table.Td fw={600}>{text(c['testName']) ?? '—'}</Table.Td>
                  <Table.Td>
                    {[shown(c['value']), text(c['units'])].filter(Boolean).join(' ') || '—'}
                  </Table.Td>
                  <Table.Td>{text(c['referenceRange']) ?? ''}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Paper>
      )}
      {codes.length > 0 && (
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="xs">
            {t('extras.codes')}
          </Title>
          <Stack gap={4} data-testid="record-codes">
            {codes.map((c, i) => {
              const system = text(c['system']) ?? '';
              return (
                <Group key={i} gap="xs" wrap="nowrap" align="baseline">
                  <Badge variant="light" color="gray" tt="none" style={{ flexShrink: 0 }}>
                    {SYSTEMS[system] ?? system}
                  </Badge>
                  <Text size="sm" ff="monospace">
                    {text(c['code'])}
                  </Text>
                  <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                    {text(c['display']) ?? ''}
                  </Text>
                </Group>
              );
            })}
          </Stack>
        </Paper>
      )}
      {origin !== undefined && (
        <Paper withBorder p="md" data-testid="record-origin">
          <Group gap="xs" mb="xs">
            <IconFileImport size={20} aria-hidden />
            <Title order={2} size="h4">
              {t('extras.origin')}
            </Title>
          </Group>
          <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
            <div>
              <Label>{t('extras.source')}</Label>
              <Text style={{ overflowWrap: 'anywhere' }}>{text(origin['source']) ?? '—'}</Text>
            </div>
            <div>
              <Label>{t('extras.originalId')}</Label>
              <Text style={{ overflowWrap: 'anywhere' }}>
                {text(origin['resourceType'])}{' '}
                <Text span ff="monospace" size="sm">
                  {text(origin['originalId'])}
                </Text>
              </Text>
            </div>
            <div>
              <Label>{t('extras.importedAt')}</Label>
              <Text>{formatDate(text(origin['importedAt']) ?? '')}</Text>
            </div>
          </SimpleGrid>
          <Text size="sm" c="dimmed" mt="xs">
            {t('extras.originExplain')}
          </Text>
        </Paper>
      )}
    </>
  );
}
