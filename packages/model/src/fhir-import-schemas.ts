/*
 * Runtime schemas of what the FHIR import reads, per resource type (R4 datatypes, open objects: elements
 * the import does not read are allowed and listed as not kept). A resource of a type the import maps whose
 * read elements have the wrong JSON type (a code that is a number, a coding that is a string) refuses the
 * whole import (MALFORMED), naming the path: a sender that garbles one element may garble others.
 */
import { Type, type TSchema } from '@sinclair/typebox';

const Str = (maxLength = 10_000) => Type.String({ maxLength });
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const List = <T extends TSchema>(schema: T, maxItems = 100) => Type.Array(schema, { maxItems });

export const CodingInput = Type.Object({
  system: Opt(Str(2000)),
  code: Opt(Str(2000)),
  display: Opt(Str(2000)),
});
export const ConceptInput = Type.Object({ coding: Opt(List(CodingInput, 50)), text: Opt(Str()) });
export const ReferenceInput = Type.Object({
  reference: Opt(Str(4000)),
  display: Opt(Str(2000)),
  identifier: Opt(Type.Object({ system: Opt(Str(2000)), value: Opt(Str(2000)) })),
});
export const QuantityInput = Type.Object({
  value: Opt(Type.Number()),
  comparator: Opt(Str(4)),
  unit: Opt(Str(200)),
  system: Opt(Str(2000)),
  code: Opt(Str(200)),
});
export const PeriodInput = Type.Object({ start: Opt(Str(64)), end: Opt(Str(64)) });
export const AttachmentInput = Type.Object({
  contentType: Opt(Str(200)),
  data: Opt(Type.String()),
  url: Opt(Str(4000)),
  title: Opt(Str(2000)),
  size: Opt(Type.Number()),
});
export const AnnotationInput = Type.Object({ text: Opt(Str(100_000)) });
const Identifier = Type.Object({ system: Opt(Str(2000)), value: Opt(Str(2000)), type: Opt(ConceptInput) });
const ContactPoint = Type.Object({ system: Opt(Str(32)), value: Opt(Str(2000)) });
const HumanName = Type.Object({
  text: Opt(Str(2000)),
  family: Opt(Str(2000)),
  given: Opt(List(Str(2000), 20)),
  prefix: Opt(List(Str(200), 10)),
  suffix: Opt(List(Str(200), 10)),
});
const Address = Type.Object({
  text: Opt(Str(2000)),
  line: Opt(List(Str(2000), 10)),
  city: Opt(Str(200)),
  state: Opt(Str(200)),
  postalCode: Opt(Str(64)),
  country: Opt(Str(200)),
});
const Extension = Type.Object({ url: Str(2000) });
export const RangeInput = Type.Object({
  low: Opt(QuantityInput),
  high: Opt(QuantityInput),
  text: Opt(Str(2000)),
});

export const SampledDataInput = Type.Object({
  origin: Opt(QuantityInput),
  period: Opt(Type.Number()),
  factor: Opt(Type.Number()),
  lowerLimit: Opt(Type.Number()),
  upperLimit: Opt(Type.Number()),
  dimensions: Opt(Type.Number()),
  data: Opt(Str(1_000_000)),
});

/** Elements of every resource the import reads. */
export const COMMON_INPUT = {
  id: Opt(Str(64)),
  identifier: Opt(List(Identifier, 50)),
  extension: Opt(List(Extension, 100)),
  note: Opt(List(AnnotationInput, 50)),
  meta: Opt(Type.Object({ versionId: Opt(Str(64)), source: Opt(Str(2000)) })),
};

const dateTime = Str(64);

/**
 * What the import reads of each resource type it maps, and of those a mapping reads beside (a Medication,
 * a recommendation). A kind's description names the shape of each type it imports (`fhir.import`).
 */
export const IMPORT_SCHEMAS = {
  Patient: Type.Object({
    ...COMMON_INPUT,
    active: Opt(Type.Boolean()),
    name: Opt(List(HumanName, 20)),
    telecom: Opt(List(ContactPoint, 50)),
    gender: Opt(Str(32)),
    birthDate: Opt(Str(32)),
    address: Opt(List(Address, 20)),
    generalPractitioner: Opt(List(ReferenceInput, 20)),
    link: Opt(List(Type.Object({ other: Opt(ReferenceInput), type: Opt(Str(32)) }), 20)),
    contact: Opt(
      List(
        Type.Object({
          relationship: Opt(List(ConceptInput, 10)),
          name: Opt(HumanName),
          telecom: Opt(List(ContactPoint, 20)),
        }),
        20,
      ),
    ),
  }),
  RelatedPerson: Type.Object({
    ...COMMON_INPUT,
    patient: Opt(ReferenceInput),
    relationship: Opt(List(ConceptInput, 10)),
    name: Opt(List(HumanName, 10)),
    telecom: Opt(List(ContactPoint, 20)),
    birthDate: Opt(Str(32)),
    period: Opt(PeriodInput),
  }),
  AllergyIntolerance: Type.Object({
    ...COMMON_INPUT,
    clinicalStatus: Opt(ConceptInput),
    verificationStatus: Opt(ConceptInput),
    category: Opt(List(Str(32), 4)),
    code: Opt(ConceptInput),
    patient: Opt(ReferenceInput),
    onsetDateTime: Opt(dateTime),
    recordedDate: Opt(dateTime),
    reaction: Opt(
      List(
        Type.Object({
          manifestation: Opt(List(ConceptInput, 20)),
          severity: Opt(Str(32)),
          onset: Opt(dateTime),
          description: Opt(Str(100_000)),
          note: Opt(List(AnnotationInput, 50)),
        }),
        20,
      ),
    ),
  }),
  Immunization: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    vaccineCode: Opt(ConceptInput),
    patient: Opt(ReferenceInput),
    occurrenceDateTime: Opt(dateTime),
    lotNumber: Opt(Str(2000)),
    doseQuantity: Opt(QuantityInput),
    performer: Opt(List(Type.Object({ actor: Opt(ReferenceInput) }), 10)),
    protocolApplied: Opt(
      List(
        Type.Object({
          doseNumberPositiveInt: Opt(Type.Integer()),
          doseNumberString: Opt(Str(200)),
          seriesDosesPositiveInt: Opt(Type.Integer()),
        }),
        10,
      ),
    ),
  }),
  ImmunizationRecommendation: Type.Object({
    ...COMMON_INPUT,
    recommendation: Opt(
      List(
        Type.Object({
          dateCriterion: Opt(List(Type.Object({ value: Opt(dateTime) }), 10)),
          supportingImmunization: Opt(List(ReferenceInput, 20)),
        }),
        20,
      ),
    ),
  }),
  MedicationStatement: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    medicationCodeableConcept: Opt(ConceptInput),
    medicationReference: Opt(ReferenceInput),
    subject: Opt(ReferenceInput),
    effectiveDateTime: Opt(dateTime),
    effectivePeriod: Opt(PeriodInput),
    informationSource: Opt(ReferenceInput),
    reasonCode: Opt(List(ConceptInput, 20)),
    dosage: Opt(
      List(
        Type.Object({
          text: Opt(Str(5000)),
          patientInstruction: Opt(Str(5000)),
          route: Opt(ConceptInput),
          timing: Opt(Type.Object({ code: Opt(ConceptInput) })),
          doseAndRate: Opt(List(Type.Object({ doseQuantity: Opt(QuantityInput) }), 10)),
        }),
        20,
      ),
    ),
  }),
  MedicationRequest: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    medicationCodeableConcept: Opt(ConceptInput),
    medicationReference: Opt(ReferenceInput),
    subject: Opt(ReferenceInput),
    authoredOn: Opt(dateTime),
    reasonCode: Opt(List(ConceptInput, 20)),
    reasonReference: Opt(List(ReferenceInput, 20)),
    dosageInstruction: Opt(
      List(
        Type.Object({
          text: Opt(Str(5000)),
          patientInstruction: Opt(Str(5000)),
          timing: Opt(
            Type.Object({
              code: Opt(ConceptInput),
              repeat: Opt(
                Type.Object({
                  frequency: Opt(Type.Number()),
                  period: Opt(Type.Number()),
                  periodUnit: Opt(Str(8)),
                }),
              ),
            }),
          ),
          asNeededBoolean: Opt(Type.Boolean()),
          route: Opt(ConceptInput),
          doseAndRate: Opt(List(Type.Object({ doseQuantity: Opt(QuantityInput) }), 10)),
        }),
        20,
      ),
    ),
    dispenseRequest: Opt(Type.Object({ validityPeriod: Opt(PeriodInput) })),
  }),
  Medication: Type.Object({ ...COMMON_INPUT, code: Opt(ConceptInput) }),
  Observation: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    category: Opt(List(ConceptInput, 10)),
    code: Opt(ConceptInput),
    subject: Opt(ReferenceInput),
    basedOn: Opt(List(ReferenceInput, 20)),
    effectiveDateTime: Opt(dateTime),
    effectiveInstant: Opt(dateTime),
    effectivePeriod: Opt(PeriodInput),
    issued: Opt(dateTime),
    performer: Opt(List(ReferenceInput, 20)),
    valueQuantity: Opt(QuantityInput),
    valueString: Opt(Str(100_000)),
    valueCodeableConcept: Opt(ConceptInput),
    valueBoolean: Opt(Type.Boolean()),
    valueInteger: Opt(Type.Integer()),
    valueDateTime: Opt(dateTime),
    valueTime: Opt(Str(64)),
    referenceRange: Opt(List(RangeInput, 10)),
    interpretation: Opt(List(ConceptInput, 10)),
    bodySite: Opt(ConceptInput),
    component: Opt(
      List(
        Type.Object({
          code: Opt(ConceptInput),
          valueQuantity: Opt(QuantityInput),
          valueString: Opt(Str(5000)),
          valueCodeableConcept: Opt(ConceptInput),
          valueInteger: Opt(Type.Integer()),
          valueBoolean: Opt(Type.Boolean()),
          valueSampledData: Opt(SampledDataInput),
          dataAbsentReason: Opt(ConceptInput),
          referenceRange: Opt(List(RangeInput, 10)),
        }),
        50,
      ),
    ),
  }),
  ServiceRequest: Type.Object({ ...COMMON_INPUT, requester: Opt(ReferenceInput) }),
  DiagnosticReport: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    category: Opt(List(ConceptInput, 10)),
    code: Opt(ConceptInput),
    subject: Opt(ReferenceInput),
    effectiveDateTime: Opt(dateTime),
    issued: Opt(dateTime),
    result: Opt(List(ReferenceInput, 1000)),
    conclusion: Opt(Str(100_000)),
    presentedForm: Opt(List(AttachmentInput, 20)),
  }),
  DocumentReference: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    type: Opt(ConceptInput),
    category: Opt(List(ConceptInput, 50)),
    subject: Opt(ReferenceInput),
    date: Opt(dateTime),
    description: Opt(Str(100_000)),
    content: Opt(List(Type.Object({ attachment: Opt(AttachmentInput) }), 20)),
    context: Opt(Type.Object({ period: Opt(PeriodInput) })),
  }),
  Encounter: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    class: Opt(CodingInput),
    type: Opt(List(ConceptInput, 10)),
    serviceType: Opt(ConceptInput),
    subject: Opt(ReferenceInput),
    participant: Opt(List(Type.Object({ individual: Opt(ReferenceInput) }), 50)),
    period: Opt(PeriodInput),
    reasonCode: Opt(List(ConceptInput, 20)),
    location: Opt(List(Type.Object({ location: Opt(ReferenceInput) }), 20)),
  }),
  Condition: Type.Object({
    ...COMMON_INPUT,
    clinicalStatus: Opt(ConceptInput),
    verificationStatus: Opt(ConceptInput),
    category: Opt(List(ConceptInput, 10)),
    severity: Opt(ConceptInput),
    code: Opt(ConceptInput),
    bodySite: Opt(List(ConceptInput, 10)),
    subject: Opt(ReferenceInput),
    onsetDateTime: Opt(dateTime),
    onsetPeriod: Opt(PeriodInput),
    abatementDateTime: Opt(dateTime),
    abatementPeriod: Opt(PeriodInput),
    recordedDate: Opt(dateTime),
  }),
  Procedure: Type.Object({
    ...COMMON_INPUT,
    status: Opt(Str(32)),
    code: Opt(ConceptInput),
    subject: Opt(ReferenceInput),
    performedDateTime: Opt(dateTime),
    performedPeriod: Opt(PeriodInput),
    performer: Opt(List(Type.Object({ actor: Opt(ReferenceInput) }), 20)),
    location: Opt(ReferenceInput),
    reasonCode: Opt(List(ConceptInput, 20)),
    bodySite: Opt(List(ConceptInput, 10)),
    outcome: Opt(ConceptInput),
  }),
  Practitioner: Type.Object({ ...COMMON_INPUT, name: Opt(List(HumanName, 10)) }),
} satisfies Readonly<Record<string, TSchema>>;
