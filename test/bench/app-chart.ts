/**
 * The app benchmark's chart (issue #48): what a patient's 20,000 records are, and how they are written.
 *
 * | part | records |
 * |---|---|
 * | lab series | `series` tests × `points` results each (100 × 100 by default), one a day, some out of range |
 * | long series | one test of `longPoints` results (1,000): the trend chart's figure |
 * | the rest | up to `total`: allergies, medications, immunizations, conditions, procedures, encounters, notes, plans, documents, contacts, in turn |
 *
 * Written by a Node device of the real client (`session.records.add`: validated, signed, encrypted, pushed),
 * 50 at a time; the browser then receives them through sync into IndexedDB, as a second device would.
 * Failure modes: any refused record throws (the run stops; nothing is skipped silently).
 */
import { exampleInput, type RecordKind } from '@hale/model';
import type { HaleSession } from '@hale/client';

export interface ChartShape {
  readonly total: number;
  readonly series: number;
  readonly points: number;
  readonly longPoints: number;
}

export const LONG_TEST_CODE = 'BENCH-LONG';
export const LONG_TEST_KEY = `code:${LONG_TEST_CODE.toLowerCase()}`;
export const LONG_TEST_NAME = 'Glucose, fasting (long series)';
const longValue = (p: number): number => 90 + 15 * Math.sin(p / 11);

/**
 * The chart's newest lab result by clinical date (the long series' last, dated after every other test's):
 * the test name and value text the home's latest labs must show first.
 */
export const newestLab = (shape: ChartShape): { name: string; value: string } => ({
  name: LONG_TEST_NAME,
  value: `${String(longValue(shape.longPoints - 1))} mg/dL`,
});

/** A word only the seeded notes hold, for the search phase. */
export const SEARCH_WORDS = ['lisinopril', 'penicillin', 'glucose', 'hypertension'] as const;

const OTHER_KINDS: readonly RecordKind[] = [
  'Allergy',
  'Medication',
  'Immunization',
  'Condition',
  'Procedure',
  'Encounter',
  'MedicalNote',
  'TreatmentPlan',
  'HealthDocument',
  'EmergencyContact',
];

const DAY = 86_400_000;
const START = Date.parse('2015-01-01T08:00:00Z');

const lab = (code: string, name: string, i: number, value: number): Record<string, unknown> => {
  const input = exampleInput('LabResult', {
    testCode: code,
    testName: name,
    value,
    units: 'mg/dL',
    referenceRange: '70-99 mg/dL',
    status: 'final',
    effectiveAt: new Date(START + i * DAY).toISOString(),
  });
  delete input['components'];
  delete input['attachments'];
  delete input['codes'];
  return input;
};

/** Every record input of the chart, in the order written: `[kind, input]`. */
export function* chartRecords(shape: ChartShape): Generator<readonly [RecordKind, Record<string, unknown>]> {
  let written = 0;
  for (let s = 0; s < shape.series; s++) {
    const code = `BENCH-${String(s).padStart(3, '0')}`;
    for (let p = 0; p < shape.points; p++, written++) {
      // A wave through the range, a few points above or below it.
      yield [
        'LabResult',
        lab(code, `Analyte ${String(s).padStart(3, '0')}`, p, 84 + 20 * Math.sin(p / 7 + s)),
      ];
    }
  }
  for (let p = 0; p < shape.longPoints; p++, written++) {
    yield ['LabResult', lab(LONG_TEST_CODE, LONG_TEST_NAME, p, longValue(p))];
  }
  for (let i = 0; written < shape.total; i++, written++) {
    const kind = OTHER_KINDS[i % OTHER_KINDS.length] ?? 'Allergy';
    yield [kind, exampleInput(kind)];
  }
}

/** Writes the chart through `session.records.add`, `concurrency` at a time; answers the count written. */
export async function writeChart(
  session: HaleSession,
  shape: ChartShape,
  onProgress: (done: number) => void = () => undefined,
  concurrency = 50,
): Promise<number> {
  let done = 0;
  let batch: Promise<unknown>[] = [];
  for (const [kind, input] of chartRecords(shape)) {
    batch.push(session.records.add(kind as never, input as never));
    if (batch.length === concurrency) {
      await Promise.all(batch);
      done += batch.length;
      batch = [];
      if (done % 2000 === 0) onProgress(done);
    }
  }
  if (batch.length > 0) {
    await Promise.all(batch);
    done += batch.length;
    onProgress(done);
  }
  return done;
}
