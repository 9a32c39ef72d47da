/**
 * Schema checking with a compiled fast path and an interpreted fallback.
 *
 * Invariants: `TypeCompiler` generates code with `new Function`, which a strict Content Security
 * Policy forbids (EvalError); then every checker falls back to `Value.Check`/`Value.Errors`, which
 * accept and reject exactly the same values, only slower. Checkers are cached per schema object.
 *
 * Forward compatibility (what a device reads from a newer server): `stripExtraProperties` removes, from a
 * copy, exactly the properties a closed object (`additionalProperties: false`) does not name, so a value
 * that only failed for those then passes the same closed schema. It never adds, changes or reorders
 * anything and never throws on odd input; where it cannot tell which branch of a union a value is meant
 * for (none or several fit once objects are opened) it leaves that value alone, so the strict check that
 * must follow refuses it. It is not a check: only the closed schema's verdict on its result counts.
 */
import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError, type ValueErrorIterator } from '@sinclair/typebox/errors';
import { MAX_REPORTED_ISSUES } from './limits';

export interface Issue {
  /** JSON Pointer to the offending value (`/rows/3/doc/rev`); `/` for the whole value. */
  readonly path: string;
  readonly reason: string;
}

/** An issue as checkers report it: `tooLarge` marks a broken maxLength/maxItems (a size limit). */
export interface CheckIssue extends Issue {
  readonly tooLarge?: true;
}

export interface Checker<T extends TSchema> {
  readonly mode: 'compiled' | 'interpreted';
  check(value: unknown): value is Static<T>;
  issues(value: unknown, max?: number): CheckIssue[];
}

const sizeErrors: ReadonlySet<ValueErrorType> = new Set([
  ValueErrorType.StringMaxLength,
  ValueErrorType.ArrayMaxItems,
]);

let codegenBlocked = false;

/**
 * "Expected union value" names no culprit. When exactly one branch of the union fits the value's
 * shape (its discriminating literals match and the value has its type), report that branch's errors.
 */
function* explain(error: ValueError): Generator<CheckIssue> {
  if (error.type === ValueErrorType.Union && error.errors.length > 0) {
    const plausible = error.errors
      .map((branch) => [...branch])
      .filter((branch) => !branch.some((e) => e.type === ValueErrorType.Literal || e.path === error.path));
    const only = plausible.length === 1 ? plausible[0] : undefined;
    if (only !== undefined && only.length > 0) {
      for (const inner of only) yield* explain(inner);
      return;
    }
  }
  const path = error.path === '' ? '/' : error.path;
  yield sizeErrors.has(error.type)
    ? { path, reason: error.message, tooLarge: true }
    : { path, reason: error.message };
}

function collect(errors: ValueErrorIterator, max: number): CheckIssue[] {
  const issues: CheckIssue[] = [];
  for (const error of errors) {
    for (const issue of explain(error)) {
      issues.push(issue);
      if (issues.length >= max) return issues;
    }
  }
  return issues;
}

function interpreted<T extends TSchema>(schema: T): Checker<T> {
  return {
    mode: 'interpreted',
    check: (value): value is Static<T> => Value.Check(schema, value),
    issues: (value, max = MAX_REPORTED_ISSUES) => collect(Value.Errors(schema, value), max),
  };
}

/** Builds a checker, compiled when code generation is allowed. */
export function createChecker<T extends TSchema>(schema: T): Checker<T> {
  if (codegenBlocked) return interpreted(schema);
  try {
    const compiled = TypeCompiler.Compile(schema);
    return {
      mode: 'compiled',
      check: (value): value is Static<T> => compiled.Check(value),
      issues: (value, max = MAX_REPORTED_ISSUES) => collect(compiled.Errors(value), max),
    };
  } catch (error) {
    // EvalError (CSP) or any other code generation failure: checking still works, interpreted.
    if (error instanceof EvalError) codegenBlocked = true;
    return interpreted(schema);
  }
}

const cache = new WeakMap<TSchema, Checker<TSchema>>();

export function checkerFor<T extends TSchema>(schema: T): Checker<T> {
  const cached = cache.get(schema);
  if (cached !== undefined) return cached as Checker<T>;
  const checker = createChecker(schema);
  cache.set(schema, checker);
  return checker;
}

// ---- forward compatibility: ignoring properties a newer peer added ----

/** A schema read as plain data (TSchema's own index signature is `any`). */
interface Node {
  readonly [Kind]: string;
  readonly [key: string]: unknown;
}

const asNode = (schema: TSchema): Node => schema;
const asSchema = (node: Node): TSchema => node as unknown as TSchema;

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Record<PropertyKey, unknown>)[Kind] === 'string';

const isPlainRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const mapSchemas = (value: unknown, fn: (node: Node) => Node): unknown => {
  if (isNode(value)) return fn(value);
  if (Array.isArray(value)) return (value as unknown[]).map((item) => (isNode(item) ? fn(item) : item));
  return value;
};

const mapProperties = (value: unknown, fn: (node: Node) => Node): unknown => {
  if (!isPlainRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) define(out, key, isNode(sub) ? fn(sub) : sub);
  return out;
};

const opened = new WeakMap<Node, Node>();

/**
 * `schema` with every object open: `additionalProperties: false` removed from each object (records keep
 * theirs, their keys are data, not fields). Everything else is as strict as before. The original is
 * never modified (the server validates with it); results are cached per schema object.
 */
export function openSchema(schema: TSchema): TSchema {
  return asSchema(openNode(asNode(schema)));
}

function openNode(schema: Node): Node {
  const cached = opened.get(schema);
  if (cached !== undefined) return cached;
  // Spread keeps TypeBox's symbol keys (Kind, OptionalKind): the copy is the same kind of schema.
  const copy: Record<PropertyKey, unknown> = { ...schema };
  for (const key of ['items', 'anyOf', 'allOf', 'oneOf', 'not', 'additionalProperties'] as const) {
    if (key in schema) copy[key] = mapSchemas(schema[key], openNode);
  }
  for (const key of ['properties', 'patternProperties'] as const) {
    if (key in schema) copy[key] = mapProperties(schema[key], openNode);
  }
  if (schema[Kind] === 'Object' && schema['additionalProperties'] === false)
    delete copy['additionalProperties'];
  const open = copy as unknown as Node;
  opened.set(schema, open);
  return open;
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  // Not `target[key] = value`: a JSON `"__proto__"` member must stay data, never become a prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `value` without the properties `schema` forbids as extra (`additionalProperties: false` on an object):
 * the same reference when there are none, else a copy (the input is never modified). Known properties are
 * kept exactly as they are, valid or not. Check the result with the strict checker before any use.
 */
export function stripExtraProperties(schema: TSchema, value: unknown): unknown {
  return strip(asNode(schema), value);
}

function strip(schema: Node, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  switch (schema[Kind]) {
    case 'Object':
      return isPlainRecord(value) ? stripObject(schema, value) : value;
    case 'Record':
      return isPlainRecord(value) ? stripRecord(schema, value) : value;
    case 'Array':
      return Array.isArray(value) && isNode(schema['items']) ? stripArray(schema['items'], value) : value;
    case 'Union':
      return stripUnion(schema, value);
    default:
      // Intersect, Ref, Tuple…: not used by the protocol's answers; left as they are (the strict check decides).
      return value;
  }
}

function stripObject(schema: Node, value: Record<string, unknown>): Record<string, unknown> {
  const properties = isPlainRecord(schema['properties']) ? schema['properties'] : {};
  const additional = schema['additionalProperties'];
  const keys = Object.keys(value);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = value[key];
    const known = Object.hasOwn(properties, key) ? properties[key] : undefined;
    const sub = isNode(known) ? known : isNode(additional) ? additional : undefined;
    const keep = known !== undefined || additional !== false;
    const next = keep && sub !== undefined ? strip(sub, item) : item;
    if (out === undefined) {
      if (keep && next === item) continue;
      out = {};
      for (let j = 0; j < i; j++) define(out, keys[j]!, value[keys[j]!]);
    }
    if (keep) define(out, key, next);
  }
  return out ?? value;
}

function stripRecord(schema: Node, value: Record<string, unknown>): Record<string, unknown> {
  const patterns = isPlainRecord(schema['patternProperties'])
    ? Object.entries(schema['patternProperties'])
    : [];
  const [pattern, sub] = patterns.length === 1 ? patterns[0]! : [undefined, undefined];
  if (pattern === undefined || !isNode(sub)) return value;
  const test = new RegExp(pattern);
  const keys = Object.keys(value);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = value[key];
    // A key outside the pattern is not an added field but a malformed one: kept, for the check to refuse.
    const next = test.test(key) ? strip(sub, item) : item;
    if (out === undefined) {
      if (next === item) continue;
      out = {};
      for (let j = 0; j < i; j++) define(out, keys[j]!, value[keys[j]!]);
    }
    define(out, key, next);
  }
  return out ?? value;
}

function stripArray(items: Node, value: readonly unknown[]): unknown[] | readonly unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const next = strip(items, item);
    if (out === undefined) {
      if (next === item) continue;
      out = value.slice(0, i);
    }
    out.push(next);
  }
  return out ?? value;
}

function stripUnion(schema: Node, value: unknown): unknown {
  const branches = Array.isArray(schema['anyOf']) ? schema['anyOf'].filter(isNode) : [];
  let only: Node | undefined;
  for (const branch of branches) {
    if (!checkerFor(asSchema(openNode(branch))).check(value)) continue;
    // Two branches fit once opened: which fields are extra depends on the branch, so guess nothing.
    if (only !== undefined) return value;
    only = branch;
  }
  return only === undefined ? value : strip(only, value);
}
