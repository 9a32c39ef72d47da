/*
 * A person's structured parts as FHIR writes them (HumanName, Address, ContactPoint, Identifier): what a
 * profile or an emergency contact keeps of an imported Patient or RelatedPerson beside the one-line fields
 * its form edits (`fullName`, `contact.phone`, …), how import reads them and when export writes them.
 *
 * Invariants:
 * - A part is in force only while the one-line field the form edits still reads as it (`names` while the
 *   first reads as the name, `telecoms` while their first phone and email are the record's, `addresses`
 *   while the first reads as the address): an edit of that field puts it out of force, and export writes
 *   the edited field instead. Identifiers are always in force, but a medical record number the record no
 *   longer has is not written.
 * - Hale's own identifiers (`urn:hale:…`) are never read into a record.
 * - Pure; every text is cut to its bound, a part with nothing to say is not kept.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import {
  CodingsSchema,
  PartialDateOrDateTimeSchema,
  StringEnum,
  boundedText,
  type Coding,
} from './common-schemas';
import {
  addressText,
  clip,
  conceptCodes,
  dateOrInstant,
  isJson,
  list,
  personName,
  str,
  telecomOf,
  type Json,
} from './fhir-import-read';

const strictObject = <P extends TProperties>(title: string, properties: P): TObject<P> =>
  Type.Object(properties, { additionalProperties: false, title });

export const PeriodSchema = strictObject('Period', {
  start: Type.Optional(PartialDateOrDateTimeSchema),
  end: Type.Optional(PartialDateOrDateTimeSchema),
});

const texts = (max: number, items: number) => Type.Array(boundedText(max, 1), { maxItems: items });

export const NAME_USES = ['usual', 'official', 'temp', 'nickname', 'anonymous', 'old', 'maiden'] as const;
export const PersonNameSchema = strictObject('PersonName', {
  use: Type.Optional(StringEnum(NAME_USES)),
  text: Type.Optional(boundedText(200, 1)),
  family: Type.Optional(boundedText(100, 1)),
  given: Type.Optional(texts(100, 10)),
  prefix: Type.Optional(texts(50, 5)),
  suffix: Type.Optional(texts(50, 5)),
  period: Type.Optional(PeriodSchema),
});
export type PersonName = Static<typeof PersonNameSchema>;

export const ADDRESS_USES = ['home', 'work', 'temp', 'old', 'billing'] as const;
export const ADDRESS_TYPES = ['postal', 'physical', 'both'] as const;
export const AddressSchema = strictObject('Address', {
  use: Type.Optional(StringEnum(ADDRESS_USES)),
  type: Type.Optional(StringEnum(ADDRESS_TYPES)),
  text: Type.Optional(boundedText(500, 1)),
  line: Type.Optional(texts(200, 5)),
  city: Type.Optional(boundedText(100, 1)),
  district: Type.Optional(boundedText(100, 1)),
  state: Type.Optional(boundedText(100, 1)),
  postalCode: Type.Optional(boundedText(20, 1)),
  country: Type.Optional(boundedText(100, 1)),
  period: Type.Optional(PeriodSchema),
});
export type Address = Static<typeof AddressSchema>;

export const TELECOM_SYSTEMS = ['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'] as const;
export const TELECOM_USES = ['home', 'work', 'temp', 'old', 'mobile'] as const;
export const TelecomSchema = strictObject('Telecom', {
  system: Type.Optional(StringEnum(TELECOM_SYSTEMS)),
  /** Without one, a use alone (`home`: the person has a home line, number not given), as FHIR allows. */
  value: Type.Optional(boundedText(254, 1)),
  use: Type.Optional(StringEnum(TELECOM_USES)),
  rank: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  period: Type.Optional(PeriodSchema),
});
export type Telecom = Static<typeof TelecomSchema>;

export const IDENTIFIER_USES = ['usual', 'official', 'temp', 'secondary', 'old'] as const;
export const IdentifierSchema = strictObject('Identifier', {
  use: Type.Optional(StringEnum(IDENTIFIER_USES)),
  /** What kind of number it is (`MR`: a medical record number), as FHIR codes it. */
  type: Type.Optional(
    strictObject('IdentifierType', {
      text: Type.Optional(boundedText(200, 1)),
      coding: Type.Optional(CodingsSchema),
    }),
  ),
  system: Type.Optional(boundedText(500, 1)),
  value: Type.Optional(boundedText(200, 1)),
  period: Type.Optional(PeriodSchema),
});
export type Identifier = Static<typeof IdentifierSchema>;

/** The person's parts a record keeps (Profile, EmergencyContact). */
export const personPartFields = {
  /** Names as the source structured them (the first one is `fullName` while in force). */
  names: Type.Optional(Type.Array(PersonNameSchema, { maxItems: 10 })),
  addresses: Type.Optional(Type.Array(AddressSchema, { maxItems: 10 })),
  /** Phones, emails and other ways to reach the person, in the source's order. */
  telecoms: Type.Optional(Type.Array(TelecomSchema, { maxItems: 20 })),
  /** Business identifiers (medical record, national, insurance numbers). */
  identifiers: Type.Optional(Type.Array(IdentifierSchema, { maxItems: 20 })),
};

// ------------------------------------------------------------------------------------------ import

type Defined<T> = { [K in keyof T]: Exclude<T[K], undefined> };
const defined = <T extends object>(value: T): Defined<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;
const oneOf = <T extends string>(values: readonly T[], value: unknown): T | undefined =>
  typeof value === 'string' && (values as readonly string[]).includes(value) ? (value as T) : undefined;
const text = (value: unknown, max: number): string | undefined => {
  const s = str(value);
  return s === undefined || s.trim() === '' ? undefined : clip(s, max);
};
const textList = (value: unknown, max: number, items: number): string[] | undefined => {
  const out = list(value)
    .map((v) => text(v, max))
    .filter((v): v is string => v !== undefined)
    .slice(0, items);
  return out.length === 0 ? undefined : out;
};
/** A Period as a record keeps it (a start or end known only to the year or month stays so). */
export const periodOf = (value: unknown): Static<typeof PeriodSchema> | undefined => {
  if (!isJson(value)) return undefined;
  const period = defined({
    start: dateOrInstant(value['start'], true),
    end: dateOrInstant(value['end'], true),
  });
  return Object.keys(period).length === 0 ? undefined : period;
};
const kept = <T extends object>(items: (T | undefined)[], max: number): T[] | undefined => {
  const out = items.filter((i): i is T => i !== undefined).slice(0, max);
  return out.length === 0 ? undefined : out;
};

/** HumanNames (one or a list) as a record keeps them. */
export const namesOf = (value: unknown): PersonName[] | undefined =>
  kept(
    list(value)
      .filter(isJson)
      .map((n): PersonName | undefined => {
        const name = defined({
          text: text(n['text'], 200),
          family: text(n['family'], 100),
          given: textList(n['given'], 100, 10),
          prefix: textList(n['prefix'], 50, 5),
          suffix: textList(n['suffix'], 50, 5),
        });
        if (Object.keys(name).length === 0) return undefined;
        return defined({ use: oneOf(NAME_USES, n['use']), ...name, period: periodOf(n['period']) });
      }),
    10,
  );

/** Addresses (one or a list) as a record keeps them. */
export const addressesOf = (value: unknown): Address[] | undefined =>
  kept(
    list(value)
      .filter(isJson)
      .map((a): Address | undefined => {
        const where = defined({
          text: text(a['text'], 500),
          line: textList(a['line'], 200, 5),
          city: text(a['city'], 100),
          district: text(a['district'], 100),
          state: text(a['state'], 100),
          postalCode: text(a['postalCode'], 20),
          country: text(a['country'], 100),
        });
        if (Object.keys(where).length === 0) return undefined;
        return defined({
          use: oneOf(ADDRESS_USES, a['use']),
          type: oneOf(ADDRESS_TYPES, a['type']),
          ...where,
          period: periodOf(a['period']),
        });
      }),
    10,
  );

/** ContactPoints as a record keeps them. */
export const telecomsOf = (value: unknown): Telecom[] | undefined =>
  kept(
    list(value)
      .filter(isJson)
      .map((c): Telecom | undefined => {
        const rank = c['rank'];
        const telecom = defined({
          system: oneOf(TELECOM_SYSTEMS, c['system']),
          value: text(c['value'], 254),
          use: oneOf(TELECOM_USES, c['use']),
          rank:
            Number.isInteger(rank) && (rank as number) >= 1 && (rank as number) <= 1000
              ? (rank as number)
              : undefined,
          period: periodOf(c['period']),
        });
        return Object.keys(telecom).length === 0 ? undefined : telecom;
      }),
    20,
  );

/** Business identifiers as a record keeps them (never Hale's own). */
export const identifiersOf = (value: unknown): Identifier[] | undefined =>
  kept(
    list(value)
      .filter(isJson)
      .map((i): Identifier | undefined => {
        const system = text(i['system'], 500);
        if (system?.startsWith('urn:hale:') === true) return undefined;
        const typeText = isJson(i['type']) ? text(i['type']['text'], 200) : undefined;
        const type = defined({ text: typeText, coding: conceptCodes(i['type']) });
        const identifier = defined({
          type: Object.keys(type).length === 0 ? undefined : type,
          system,
          value: text(i['value'], 200),
        });
        if (Object.keys(identifier).length === 0) return undefined;
        return defined({
          use: oneOf(IDENTIFIER_USES, i['use']),
          ...identifier,
          period: periodOf(i['period']),
        });
      }),
    20,
  );

/** The one-line fields a record's form edits, as import read them. */
export interface OneLine {
  readonly name: string;
  readonly phone?: string | undefined;
  readonly email?: string | undefined;
  readonly address?: string | undefined;
  readonly mrn?: string | undefined;
}

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A person resource's parts (Patient, RelatedPerson, a Patient's contact: `name` and `address` one),
 * those that say more than `line` (what Hale's own export writes from the one-line fields is not kept).
 */
export const personPartsOf = (r: Json, line: OneLine) => {
  const names = namesOf(r['name']);
  const addresses = addressesOf(r['address']);
  const telecoms = telecomsOf(r['telecom']);
  const plain = [
    ...(line.phone === undefined ? [] : [{ system: 'phone', value: line.phone }]),
    ...(line.email === undefined ? [] : [{ system: 'email', value: line.email }]),
  ];
  const identifiers = identifiersOf(r['identifier'])?.filter(
    (i) =>
      !same(i, {
        type: { coding: [{ system: V2_0203, code: 'MR', display: 'Medical record number' }] },
        value: line.mrn,
      }),
  );
  return defined({
    names: same(names, [{ text: line.name }]) ? undefined : names,
    addresses: same(addresses, [{ text: line.address }]) ? undefined : addresses,
    telecoms: same(telecoms, plain) ? undefined : telecoms,
    identifiers: identifiers?.length === 0 ? undefined : identifiers,
  });
};

// ------------------------------------------------------------------------------------------ in force

/** A name or an address as one line (as import reads the first into the record's one-line field). */
export const nameLine = (name: PersonName): string | undefined => personName(name);
export const addressLine = (address: Address): string | undefined => addressText(address);

/** The names, while the first still reads as `name`. */
export const namesInForce = (name: string, names: readonly PersonName[] | undefined) =>
  names !== undefined && personName(names[0]) === name ? names : undefined;

/** The telecoms, while their first phone and email are the record's. */
export const telecomsInForce = (
  contact: { readonly phone?: string | undefined; readonly email?: string | undefined } | undefined,
  telecoms: readonly Telecom[] | undefined,
) =>
  telecoms !== undefined &&
  telecomOf(telecoms, 'phone') === contact?.phone &&
  telecomOf(telecoms, 'email') === contact?.email
    ? telecoms
    : undefined;

/** The addresses, while the first still reads as `address`. */
export const addressesInForce = (address: string | undefined, addresses: readonly Address[] | undefined) =>
  addresses !== undefined && address !== undefined && addressText(addresses[0]) === address
    ? addresses
    : undefined;

const isRecordNumber = (i: Identifier) => (i.type?.coding ?? []).some((c: Coding) => c.code === 'MR');

/** The identifiers export writes: all but a medical record number that is no longer `mrn`. */
export const identifiersInForce = (identifiers: readonly Identifier[] | undefined, mrn: string | undefined) =>
  (identifiers ?? []).filter((i) => !isRecordNumber(i) || i.value === mrn);

/** Whether the identifiers in force carry `mrn` as a medical record number (then Hale writes none of its own). */
export const carriesRecordNumber = (
  identifiers: readonly Identifier[] | undefined,
  mrn: string | undefined,
) => mrn !== undefined && (identifiers ?? []).some((i) => isRecordNumber(i) && i.value === mrn);
