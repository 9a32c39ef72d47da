/**
 * What a record's detail screen shows beside its form fields, when the record has it: the codes a source
 * system sent (SNOMED CT, LOINC, RxNorm, CVX, ICD-10…), a result's parts (a blood pressure's values), an
 * allergy's reactions as a source recorded them (while in force: @hale/model allergy-reactions.ts), and
 * where an imported record came from (its origin: the source, the resource there, when it was imported).
 */
import type { ReactNode } from 'react';
import { Badge, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { IconFileImport } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { conceptsInForce, reactionsInForce, type Concept } from '@hale/model';
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

/** Fields whose words a source sent codes for, with their text field and its bound (concepts.ts). */
const CODED_FIELDS = [
  ['interpretations', 'interpretation', 200],
  ['bodySites', 'bodySite', 200],
  ['routes', 'route', 100],
  ['reasons', 'reason', 500],
] as const;

/** The codes of a record's coded words while in force, each with the field they code. */
export const codedWords = (
  record: Readonly<Record<string, unknown>>,
): [string, Record<string, unknown>][] => {
  const concepts: [string, readonly Concept[] | undefined][] = CODED_FIELDS.map(([list, field, max]) => [
    field,
    conceptsInForce(
      text(record[field]),
      Array.isArray(record[list]) ? (record[list] as Concept[]) : undefined,
      max,
    ),
  ]);
  const value = obj(record['valueConcept']) as Concept | undefined;
  if (value !== undefined && value.text === record['value']) concepts.push(['value', [value]]);
  if (Array.isArray(record['reactions']))
    concepts.push(['reaction', reactionsInForce(record)?.flatMap((r) => r.manifestations)]);
  return concepts.flatMap(([field, list]) =>
    (list ?? []).flatMap((c) =>
      (c.codes ?? []).map((code): [string, Record<string, unknown>] => [field, code]),
    ),
  );
};

export function RecordExtras(props: { readonly record: Readonly<Record<string, unknown>> }): ReactNode {
  const { t } = useTranslation();
  const { record } = props;
  const codes: [string | undefined, Readonly<Record<string, unknown>>][] = [
    ...(Array.isArray(record['codes']) ? record['codes'] : [])
      .map(obj)
      .filter((c) => c !== undefined)
      .map((c): [undefined, Readonly<Record<string, unknown>>] => [undefined, c]),
    ...codedWords(record),
  ];
  const parts = (Array.isArray(record['components']) ? record['components'] : [])
    .map(obj)
    .filter((c) => c !== undefined);
  const origin = obj(record['origin']);
  const reactions = Array.isArray(record['reactions']) ? (reactionsInForce(record) ?? []) : [];
  if (codes.length === 0 && parts.length === 0 && reactions.length === 0 && origin === undefined) return null;
  return (
    <>
      {reactions.length > 0 && (
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="xs">
            {t('extras.reactions')}
          </Title>
          <Table verticalSpacing={4} data-testid="record-reactions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('extras.manifestations')}</Table.Th>
                <Table.Th>{t('fields.severity')}</Table.Th>
                <Table.Th>{t('extras.reactionOnset')}</Table.Th>
                <Table.Th>{t('fields.description')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {reactions.map((r, i) => (
                <Table.Tr key={i}>
                  <Table.Td fw={600}>{r.manifestations.map((m) => m.text).join(', ')}</Table.Td>
                  <Table.Td>{r.severity === undefined ? '' : t(`enum.severity.${r.severity}`)}</Table.Td>
                  <Table.Td>{r.onset === undefined ? '' : formatDate(r.onset)}</Table.Td>
                  <Table.Td style={{ overflowWrap: 'anywhere' }}>
                    {[r.description, r.notes].filter(Boolean).join(' — ')}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Paper>
      )}
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
                    {[shown(c['value']), text(c['units'])].filter(Boolean).join(' ') ||
                      text(obj(c['dataAbsentReason'])?.['text']) ||
                      '—'}
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
            {codes.map(([field, c], i) => {
              const system = text(c['system']) ?? '';
              return (
                <Group key={i} gap="xs" wrap="nowrap" align="baseline">
                  {field !== undefined && (
                    <Text size="sm" c="dimmed" style={{ flexShrink: 0 }}>
                      {t(`fields.${field}`)}
                    </Text>
                  )}
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
