// Local search over a large chart: SEARCH_BENCH_RECORDS records (default 20,000) of the searchable kinds,
// with varied clinical text, fed to the live index as the records API's views would list them
// (`createLiveIndex`, the code `session.search` runs), then a fixed set of queries of the kinds a search
// box sends (whole words, prefixes as typed, two words, a typo, a Han term, a word no record has). Each
// query runs with the session's options (hits capped at 50). The peer, in the same run: a naive scan that
// lower-cases every searchable field once (its own "build") and keeps the records containing every
// query word as a substring (no ranking, no typo tolerance, no word prefixes beyond substrings).
// Run: npm run bench:client   (prints a table and one JSON line)
import { Subject } from 'rxjs';
import { exampleRecord, newId, type RecordKind, type RecordOf } from '@hale/model';
import {
  SEARCH_FIELDS,
  createLiveIndex,
  fieldText,
  type SearchableKind,
  type StoredRecord,
} from '@hale/client/advanced';

const RECORDS = Number(process.env['SEARCH_BENCH_RECORDS'] ?? 20_000);
const ROUNDS = Number(process.env['SEARCH_BENCH_ROUNDS'] ?? 5);

// A fixed pseudo-random sequence: the same chart every run.
let seed = 0x2545f491;
const random = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const words = (list: readonly string[], n: number): string =>
  Array.from({ length: n }, () => pick(list)).join(' ');

const SUBSTANCES = [
  'Penicillin',
  'Amoxicillin',
  'Latex',
  'Peanut',
  'Shellfish',
  'Sulfamethoxazole',
  'Aspirin',
  'Ibuprofen',
  'Pollen',
  'Dust mite',
  'Egg',
  'Codeine',
  '青黴素',
  '花生',
];
const MEDICATIONS = [
  'Lisinopril',
  'Metformin',
  'Atorvastatin',
  'Levothyroxine',
  'Amlodipine',
  'Omeprazole',
  'Salbutamol',
  'Sertraline',
  'Warfarin',
  'Prednisolone',
  'Insulin glargine',
  'Losartan',
];
const LAB_TESTS = [
  'Glucose [Mass/volume] in Serum or Plasma',
  'Hemoglobin A1c',
  'Creatinine',
  'Potassium',
  'Sodium',
  'TSH',
  'LDL cholesterol',
  'HDL cholesterol',
  'Hemoglobin',
  'Platelets',
  'ALT',
  'Ferritin',
  'Vitamin D',
  'CRP',
];
const VACCINES = [
  'Tdap',
  'Influenza',
  'COVID-19 mRNA',
  'Hepatitis B',
  'MMR',
  'Pneumococcal',
  'Varicella',
  'HPV',
  'Shingles',
];
const DOC_TYPES = ['discharge-summary', 'referral', 'imaging-report', 'prescription', 'letter', 'insurance'];
const PLACES = [
  'Riverside Hospital',
  'Northgate Clinic',
  'St. Mary Medical Center',
  'Harbor Family Practice',
  'Lakeside Imaging',
];
const CLINICAL = [
  'hypertension',
  'diabetes',
  'asthma',
  'follow-up',
  'dizziness',
  'headache',
  'fatigue',
  'rash',
  'hives',
  'swelling',
  'nausea',
  'cough',
  'fever',
  'review',
  'stable',
  'improving',
  'worsening',
  'dose',
  'adjusted',
  'reported',
  'morning',
  'evening',
  'twice',
  'daily',
  'weekly',
  'blood',
  'pressure',
  'sugar',
  'kidney',
  'liver',
  'thyroid',
  'cholesterol',
  'weight',
  'exercise',
  'diet',
  'sleep',
  'pain',
  'knee',
  'back',
  'chest',
  'allergy',
  'reaction',
  'mild',
  'severe',
  'moderate',
  'referral',
  'cardiology',
  'dermatology',
  'ultrasound',
  'x-ray',
  'mri',
  'scan',
  'result',
  'normal',
  'elevated',
  'low',
  'high',
  'repeat',
  'months',
  'weeks',
  'patient',
  'tolerates',
  'avoid',
  'continue',
  'stop',
  'start',
  'increase',
  'decrease',
  'monitor',
];
// The common words of notes: many different ones, as free text has.
const COMMON = Array.from({ length: 3_000 }, (_, i) => `w${(i * 2654435761) % 1_000_003}`);

const text = (n: number) => `${words(CLINICAL, Math.ceil(n / 2))} ${words(COMMON, Math.floor(n / 2))}`;

const makers: { [K in SearchableKind]?: () => Partial<RecordOf<K>> } = {
  Allergy: () => ({ substance: pick(SUBSTANCES), reaction: words(CLINICAL, 2), notes: text(12) }),
  Medication: () => ({
    name: pick(MEDICATIONS),
    dose: `${Math.ceil(random() * 100)} mg`,
    instructions: text(10),
    reason: words(CLINICAL, 2),
  }),
  LabResult: () => ({ testName: pick(LAB_TESTS), performer: pick(PLACES) }),
  Immunization: () => ({ vaccineName: pick(VACCINES), performer: pick(PLACES), notes: text(6) }),
  HealthDocument: () => ({
    title: `${pick(['Discharge summary', 'Referral letter', 'MRI report', 'Lab report', 'Prescription'])}, ${pick(PLACES)}`,
    documentType: pick(DOC_TYPES),
    description: text(20),
  }),
  Encounter: () => ({
    reason: words(CLINICAL, 4),
    department: pick(['Cardiology', 'Family medicine', 'Dermatology']),
    location: pick(PLACES),
  }),
  Message: () => ({ body: text(40) }),
  NoteVersion: () => ({ subjective: text(40), objective: text(30), assessment: text(20), plan: text(20) }),
  TreatmentPlan: () => ({ summary: words(CLINICAL, 4), details: text(60) }),
  Appointment: () => ({ reason: words(CLINICAL, 4), location: pick(PLACES) }),
};
// Shares of the chart: lab results and notes dominate a long history.
const MIX: Array<[SearchableKind, number]> = [
  ['LabResult', 0.3],
  ['NoteVersion', 0.15],
  ['Message', 0.15],
  ['Medication', 0.08],
  ['Encounter', 0.08],
  ['HealthDocument', 0.07],
  ['Appointment', 0.07],
  ['Immunization', 0.04],
  ['Allergy', 0.03],
  ['TreatmentPlan', 0.03],
];

const stored = <K extends RecordKind>(kind: K, fields: Partial<RecordOf<K>>): StoredRecord => ({
  kind,
  record: { ...exampleRecord(kind), ...fields, id: newId() },
  author: 'BenchDevice00000000001',
  by: 'BenchPatient0000000001',
  conflict: false,
  conflictData: null,
  rv: 1,
});

const chart = new Map<SearchableKind, StoredRecord[]>();
for (const [kind, share] of MIX) {
  const make = makers[kind] as () => Partial<RecordOf<typeof kind>>;
  chart.set(
    kind,
    Array.from({ length: Math.round(RECORDS * share) }, () => stored(kind, make())),
  );
}
const all = [...chart.values()].flat();

const QUERIES = [
  'penicillin',
  'metformin',
  'glucose',
  'hemoglobin',
  'influenza',
  'riverside',
  'discharge summary',
  'hypertension',
  'diabetes',
  'rash',
  'blood pressure',
  'kidney function',
  'cardiology referral',
  'pen',
  'gluc',
  'hyp',
  'dia',
  'ch',
  'x',
  'dizzi',
  'atorv',
  'mri report',
  'lab report riverside',
  'hypertensoin',
  'cholestrol',
  'metfromin',
  '青黴素',
  'w123',
  `${COMMON[17]!} ${COMMON[42]!}`,
  'zebra',
];

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), max: s[s.length - 1]! };
};
const fmt = (n: number) => n.toFixed(2);

/** The heap in use after a full collection (run with --expose-gc; without it, as it is). */
const heapUsed = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

// --- Hale: the live index, fed as the records API's views list a chart.
const heapBefore = heapUsed();
const views = new Map<RecordKind, Subject<readonly StoredRecord[]>>();
const index = createLiveIndex((kind) => {
  const s = new Subject<readonly StoredRecord[]>();
  views.set(kind, s);
  return s;
});
const buildStart = performance.now();
for (const [kind, records] of chart) views.get(kind)!.next(records);
for (const kind of views.keys()) if (!chart.has(kind as SearchableKind)) views.get(kind)!.next([]);
const buildMs = performance.now() - buildStart;
if (!index.ready() || index.size() !== all.length) throw new Error('the index is not complete');
const heapMb = (heapUsed() - heapBefore) / 2 ** 20;

// One record changed: the view lists the kind again (what a sync or an edit costs the index).
const allergies = chart.get('Allergy')!;
const changed: StoredRecord = {
  ...allergies[0]!,
  rv: 2,
  record: { ...allergies[0]!.record, substance: 'Mango' },
};
const changeStart = performance.now();
views.get('Allergy')!.next([changed, ...allergies.slice(1)]);
const changeMs = performance.now() - changeStart;
if (index.search('mango').total !== 1) throw new Error('the change is not found');

// --- The peer: a substring scan over the same fields, lower-cased once.
const scanBuildStart = performance.now();
// The same texts the index reads (`fieldText`), the changed allergy as it is now.
const haystack = all
  .map((r) => (r === allergies[0] ? changed : r))
  .map((s) => {
    const r = s.record as unknown as Record<string, unknown>;
    const parts = SEARCH_FIELDS[s.kind as SearchableKind].map((path) => fieldText(r, path) ?? '');
    return { s, text: parts.join('\n').toLowerCase() };
  });
const scanBuildMs = performance.now() - scanBuildStart;
const scan = (query: string) => {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = haystack.filter((h) => terms.every((t) => h.text.includes(t)));
  return { total: hits.length, hits: hits.slice(0, 50) };
};

// Warm both, then time ROUNDS rounds of every query.
for (const q of QUERIES) {
  index.search(q, { limit: 50 });
  scan(q);
}
const hale: number[] = [];
const naive: number[] = [];
const totals: Record<string, [number, number]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const q of QUERIES) {
    let t = performance.now();
    const found = index.search(q, { limit: 50 });
    hale.push(performance.now() - t);
    t = performance.now();
    const scanned = scan(q);
    naive.push(performance.now() - t);
    totals[q] = [found.total, scanned.total];
  }
}
const h = stats(hale);
const n = stats(naive);

console.log(`Local search over ${all.length} records (${QUERIES.length} queries x ${ROUNDS} rounds)\n`);
console.log(
  `index build (live index, every kind listed once): ${buildMs.toFixed(0)} ms, heap +${heapMb.toFixed(0)} MiB`,
);
console.log(`one record changed (its kind listed again):        ${changeMs.toFixed(1)} ms`);
console.log(`naive scan's build (fields lower-cased once):     ${scanBuildMs.toFixed(0)} ms\n`);
console.log('| query time (ms) | p50 | p95 | max |');
console.log('| --- | ---: | ---: | ---: |');
console.log(`| Hale (MiniSearch: ranked, prefixes, typos) | ${fmt(h.p50)} | ${fmt(h.p95)} | ${fmt(h.max)} |`);
console.log(`| naive substring scan (unranked) | ${fmt(n.p50)} | ${fmt(n.p95)} | ${fmt(n.max)} |`);
console.log(
  `| ratio scan / Hale | ${(n.p50 / h.p50).toFixed(1)}x | ${(n.p95 / h.p95).toFixed(1)}x | ${(n.max / h.max).toFixed(1)}x |\n`,
);
console.log('matches per query (Hale / scan):');
console.log(
  Object.entries(totals)
    .map(([q, [a, b]]) => `  ${JSON.stringify(q)}: ${a} / ${b}`)
    .join('\n'),
);
console.log(
  JSON.stringify({
    records: all.length,
    buildMs: Math.round(buildMs),
    heapMiB: Math.round(heapMb),
    changeMs: Number(changeMs.toFixed(1)),
    hale: h,
    scan: { buildMs: Math.round(scanBuildMs), ...n },
    p95Budget: 50,
    p95Ok: h.p95 <= 50,
  }),
);
if (h.p95 > 50) process.exitCode = 1;
