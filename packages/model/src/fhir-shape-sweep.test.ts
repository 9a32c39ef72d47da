import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import { FhirExportError, toFhirBundle, validateFhirBundleShape, type FhirExportItem } from './fhir';
import { RECORD_KIND_NAMES, isRecordKind, type RecordKind } from './registry';
import { validateRecord } from './validate';

// exportFhir signs whatever toFhirBundle maps, and a recipient's verifyFhirExport refuses a Bundle that
// validateFhirBundleShape refuses (SHAPE_INVALID): every record the model accepts must map to a Bundle of
// that shape, edge values included, or a patient hands out a signed export that fails its check.

const EDGE_VALUES: readonly unknown[] = [
  '',
  ' ',
  'x',
  ' x ',
  '\u00a0',
  'a'.repeat(5000),
  '\u0000',
  '\t',
  '\n',
  'e\u0301',
  '💊',
  '<b>',
  '2024-02-30',
  '2024-05-01',
  '2024-05',
  '2024',
  '2024-05-01T09:30:00Z',
  '2024-05-01T09:30:00.123456789+14:00',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  0,
  -1,
  1,
  1.5,
  1e21,
  1e-7,
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  null,
  [],
  [''],
  {},
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  'urn:x',
];

type Path = readonly (string | number)[];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every path into `value` below its root, containers included. */
const pathsIn = (value: unknown, prefix: Path = []): Path[] => {
  const children: [string | number, unknown][] = Array.isArray(value)
    ? value.map((child: unknown, i) => [i, child])
    : isObject(value)
      ? Object.entries(value)
      : [];
  return children.flatMap(([step, child]) => [[...prefix, step], ...pathsIn(child, [...prefix, step])]);
};

/** A copy of `value` with the element at `path` replaced by `next`, or removed when `next` is REMOVE. */
const REMOVE = Symbol('remove');
const changedAt = (value: unknown, path: Path, next: unknown): unknown => {
  const [step, ...rest] = path;
  if (step === undefined) return next;
  if (Array.isArray(value) && typeof step === 'number') {
    const copy: unknown[] = (value as unknown[]).slice();
    if (rest.length === 0 && next === REMOVE) copy.splice(step, 1);
    else copy[step] = changedAt(copy[step], rest, next);
    return copy;
  }
  if (isObject(value) && typeof step === 'string') {
    const copy = { ...value };
    if (rest.length === 0 && next === REMOVE) delete copy[step];
    else copy[step] = changedAt(copy[step], rest, next);
    return copy;
  }
  return value;
};

const othersThan = (kind: RecordKind): unknown[] =>
  RECORD_KIND_NAMES.filter((other) => other !== kind).map((other) => ({
    kind: other,
    record: exampleRecord(other),
  }));

/** Validates the items as the export's caller would; the items the model accepts, as export items. */
const exportItems = (raw: readonly unknown[]): FhirExportItem[] =>
  raw.flatMap((item) => {
    if (!isObject(item) || typeof item.kind !== 'string' || !isRecordKind(item.kind)) return [];
    const checked = validateRecord(item.kind, item.record);
    if (!checked.ok) return [];
    const conflict = item.conflict === undefined ? {} : { conflict: item.conflict };
    // One member of the FhirExportItem union per kind; validateRecord just proved this one.
    return [{ kind: item.kind, record: checked.value, ...conflict } as FhirExportItem];
  });

/** `othersThan(kind)` as export items, made once per kind and frozen (the mapping must not change them). */
const others = new Map<RecordKind, readonly FhirExportItem[]>();
const othersOf = (kind: RecordKind): readonly FhirExportItem[] => {
  let items = others.get(kind);
  if (items === undefined) {
    items = deepFreeze(exportItems(othersThan(kind)));
    others.set(kind, items);
  }
  return items;
};
const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

/**
 * The shape issues of the Bundle the model maps `record` (of `kind`, beside one example of every other
 * kind) onto; null when the model refuses the record, [] when the Bundle is well-formed. `asSide`: the
 * record goes out as the other side of a conflict of `shown` (same id), not on its own.
 */
const shapeIssuesOf = (kind: RecordKind, record: unknown, shown?: unknown): string[] | null => {
  if (!validateRecord(kind, record).ok) return null;
  const own =
    shown === undefined ? { kind, record } : { kind, record: shown, conflict: { sides: [{ record }] } };
  const records = [...othersOf(kind), ...exportItems([own])];
  try {
    const bundle = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records,
      generatedAt: '2024-06-01T12:00:00Z',
    });
    const shape = validateFhirBundleShape(bundle);
    return shape.ok ? [] : shape.error.issues.map((issue) => `${issue.path}: ${issue.reason}`);
  } catch (error) {
    // A typed refusal (e.g. a side whose id is not the shown record's) is an answer, not a broken Bundle.
    if (error instanceof FhirExportError) return null;
    throw error;
  }
};

interface Change {
  readonly path: Path;
  readonly next: unknown;
}

const described = ({ path, next }: Change): string =>
  `${path.join('.')} ${next === REMOVE ? 'removed' : JSON.stringify(next).slice(0, 20)}`;

/** For each kind, the single changes of its example the model accepts, and the issues of each's Bundle. */
const sweep = (): Map<RecordKind, { change: Change; issues: string[] }[]> =>
  new Map(
    RECORD_KIND_NAMES.map((kind) => {
      const example: unknown = exampleRecord(kind);
      const changes = pathsIn(example).flatMap((path) =>
        [REMOVE, ...EDGE_VALUES].flatMap((next) => {
          const issues = shapeIssuesOf(kind, changedAt(example, path, next));
          return issues === null ? [] : [{ change: { path, next }, issues }];
        }),
      );
      return [kind, changes];
    }),
  );

describe('toFhirBundle maps every valid record onto a well-formed Bundle', () => {
  let swept: ReturnType<typeof sweep> | undefined;
  const acceptedChanges = (): ReturnType<typeof sweep> => (swept ??= sweep());

  it('one element of an example changed to an edge value, or removed, for every element of every kind', () => {
    const broken = [...acceptedChanges()].flatMap(([kind, changes]) =>
      changes
        .filter(({ issues }) => issues.length > 0)
        .map(({ change, issues }) => `${kind} ${described(change)}: ${issues.slice(0, 2).join('; ')}`),
    );
    expect(broken).toEqual([]);
    // The sweep means something only if the model takes many of the variants (≈2.5k of ≈12k today).
    const count = [...acceptedChanges().values()].reduce((sum, changes) => sum + changes.length, 0);
    expect(count).toBeGreaterThan(1000);
    // ≈12k exports: 20–40 s idle, minutes on a loaded machine.
  }, 300_000);

  it('several of those changes at once (random)', () => {
    const accepted = acceptedChanges();
    const kinds = RECORD_KIND_NAMES.filter((kind) => (accepted.get(kind)?.length ?? 0) > 1);
    const kindAndPicks = fc.tuple(
      fc.constantFrom(...kinds),
      fc.array(fc.nat(), { minLength: 2, maxLength: 6 }),
    );
    let valid = 0;
    fc.assert(
      fc.property(kindAndPicks, ([kind, picks]) => {
        const changes = accepted.get(kind) ?? [];
        let record: unknown = exampleRecord(kind);
        for (const pick of picks) {
          const chosen = changes[pick % changes.length];
          if (chosen !== undefined) record = changedAt(record, chosen.change.path, chosen.change.next);
        }
        const issues = shapeIssuesOf(kind, record);
        if (issues !== null) valid += 1;
        expect(issues ?? []).toEqual([]);
      }),
      { numRuns: 500 },
    );
    // Combined changes must mostly stay valid records, or this would test nothing (≈499 of 500 today).
    expect(valid).toBeGreaterThan(250);
  });

  it('each of those changed records as the other side of a conflict of the example', () => {
    let sides = 0;
    const broken = [...acceptedChanges()].flatMap(([kind, changes]) => {
      const shown: unknown = exampleRecord(kind);
      return changes.flatMap(({ change }) => {
        const side = changedAt(shown, change.path, change.next);
        const issues =
          isObject(side) && isObject(shown) ? shapeIssuesOf(kind, { ...side, id: shown.id }, shown) : null;
        if (issues !== null) sides += 1;
        return issues !== null && issues.length > 0
          ? [`${kind} side ${described(change)}: ${issues.slice(0, 2).join('; ')}`]
          : [];
      });
    });
    expect(broken).toEqual([]);
    expect(sides).toBeGreaterThan(1000);
  }, 300_000);
});
