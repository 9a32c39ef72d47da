/**
 * What a record's detail screen shows beside its form fields, when the record has it: the codes a source
 * system sent (SNOMED CT, LOINC, RxNorm, CVX, ICD-10…; a code sent without its system alone), a result's
 * parts (a blood pressure's values; samples such as an ECG lead's in short), an allergy's reactions as a
 * source recorded them (while in force: @hale/model allergy-reactions.ts), what else the source structured
 * (a person's names, addresses, phones and identifiers while in force: @hale/model person-parts.ts; a
 * visit's kinds; a medicine's further instructions and dosages), and where an imported record came from
 * (its origin: the source, the resource there, when it was imported).
 */
import type { ReactNode } from 'react';
import { Badge, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { IconFileImport } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import {
  addressLine,
  addressesInForce,
  conceptsInForce,
  identifiersInForce,
  nameLine,
  namesInForce,
  reactionsInForce,
  telecomsInForce,
  type Address,
  type Concept,
  type Identifier,
  type MedicationDosage,
  type PersonName,
  type Telecom,
} from '@hale/model';
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
  for (const field of ['visitTypes', 'additionalInstructions'] as const)
    if (Array.isArray(record[field])) concepts.push([field, record[field] as Concept[]]);
  return concepts.flatMap(([field, list]) =>
    (list ?? []).flatMap((c) =>
      (c.codes ?? []).map((code): [string, Record<string, unknown>] => [field, code]),
    ),
  );
};

/**
 * A result part's samples in short (not the data): how many sample points, how often, and how a datum
 * reads as a value (`origin + factor × datum`, in the origin's unit). Undefined: no samples.
 */
export const sampledSummary = (t: TFunction, sampled: unknown): string | undefined => {
  const d = obj(sampled);
  const origin = obj(d?.['origin']);
  if (d === undefined || typeof d['period'] !== 'number') return undefined;
  const values = (text(d['data']) ?? '').split(/\s+/).filter((v) => v !== '').length;
  const dimensions = typeof d['dimensions'] === 'number' && d['dimensions'] > 0 ? d['dimensions'] : 1;
  const points = Math.floor(values / dimensions);
  const unit = text(origin?.['unit']) ?? text(origin?.['code']);
  const scale =
    typeof d['factor'] === 'number' && d['factor'] !== 1
      ? t('extras.sampledScale', {
          factor: d['factor'],
          origin: [shown(origin?.['value']), unit].filter(Boolean).join(' '),
        })
      : unit === undefined
        ? undefined
        : t('extras.sampledUnit', { unit });
  return [t('extras.sampled', { count: points, period: d['period'] }), scale].filter(Boolean).join(', ');
};

/** One line of what a source structured: its words, and i18n keys of what it is and how it is used. */
export interface SourceLine {
  readonly words: string;
  /** A telecom's system (`extras.telecom.phone`). */
  readonly system?: string;
  /** `extras.use.home`. */
  readonly use?: string;
}

const useOf = (use: string | undefined) => (use === undefined ? {} : { use: `extras.use.${use}` });
const list = <T,>(v: unknown): readonly T[] | undefined => (Array.isArray(v) ? (v as T[]) : undefined);

/**
 * What a source structured beyond the form's fields, by the i18n key of its label: a person's parts
 * while in force (a profile's or an emergency contact's), a visit's kinds, a medicine's further
 * instructions and dosages.
 */
export const sourceParts = (record: Readonly<Record<string, unknown>>): [string, SourceLine[]][] => {
  const contact = obj(record['contact']);
  const name = text(record['fullName']) ?? text(record['name']) ?? '';
  const oneLine = contact ?? record;
  const names = namesInForce(name, list<PersonName>(record['names'])) ?? [];
  const addresses =
    contact === undefined
      ? (list<Address>(record['addresses']) ?? [])
      : (addressesInForce(text(contact['address']), list<Address>(record['addresses'])) ?? []);
  const telecoms =
    telecomsInForce(
      { phone: text(oneLine['phone']), email: text(oneLine['email']) },
      list<Telecom>(record['telecoms']),
    ) ?? [];
  const identifiers =
    contact === undefined && record['fullName'] === undefined
      ? (list<Identifier>(record['identifiers']) ?? [])
      : identifiersInForce(list<Identifier>(record['identifiers']), text(record['medicalRecordNumber']));
  const concepts = (v: unknown) => (list<Concept>(v) ?? []).map((c): SourceLine => ({ words: c.text }));
  const dosage = (d: MedicationDosage): SourceLine => ({
    words: [d.text, d.route?.text, d.instructions, ...(d.additionalInstructions ?? []).map((c) => c.text)]
      .filter(Boolean)
      .join(' — '),
  });
  const parts: [string, SourceLine[]][] = [
    [
      'extras.names',
      names.flatMap((n) => {
        const words = nameLine(n);
        return words === undefined ? [] : [{ words, ...useOf(n.use) }];
      }),
    ],
    [
      'extras.addresses',
      addresses.flatMap((a) => {
        const words = addressLine(a);
        return words === undefined ? [] : [{ words, ...useOf(a.use) }];
      }),
    ],
    [
      'extras.telecoms',
      telecoms.map((c) => ({
        words: c.value ?? '—',
        ...(c.system === undefined ? {} : { system: `extras.telecom.${c.system}` }),
        ...useOf(c.use),
      })),
    ],
    [
      'extras.identifiers',
      identifiers.map((i) => ({
        words: [i.type?.text ?? i.type?.coding?.[0]?.display, i.value ?? '—', i.system && `(${i.system})`]
          .filter(Boolean)
          .join(' '),
        ...useOf(i.use),
      })),
    ],
    ['fields.visitTypes', concepts(record['visitTypes'])],
    ['fields.additionalInstructions', concepts(record['additionalInstructions'])],
    ['extras.moreDosages', (list<MedicationDosage>(record['moreDosages']) ?? []).map(dosage)],
  ];
  return parts.filter(([, lines]) => lines.length > 0);
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
  const structured = sourceParts(record);
  if (
    codes.length === 0 &&
    parts.length === 0 &&
    reactions.length === 0 &&
    structured.length === 0 &&
    origin === undefined
  )
    return null;
  return (
    <>
      {structured.length > 0 && (
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="xs">
            {t('extras.asRecorded')}
          </Title>
          <Stack gap="xs" data-testid="record-source-parts">
            {structured.map(([label, lines]) => (
              <div key={label}>
                <Label>{t(label)}</Label>
                {lines.map((line, i) => (
                  <Text key={i} size="sm" style={{ overflowWrap: 'anywhere' }}>
                    {line.system !== undefined && `${t(line.system)}: `}
                    {line.words}
                    {line.use !== undefined && (
                      <Text span size="sm" c="dimmed">
                        {' '}
                        ({t(line.use)})
                      </Text>
                    )}
                  </Text>
                ))}
              </div>
            ))}
          </Stack>
        </Paper>
      )}
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
                      sampledSummary(t, c['sampledData']) ||
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
                  {/* A code sent without its system (R4 allows one): the code alone. */}
                  {system !== '' && (
                    <Badge variant="light" color="gray" tt="none" style={{ flexShrink: 0 }}>
                      {SYSTEMS[system] ?? system}
                    </Badge>
                  )}
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
