/**
 * Schema checking with a compiled fast path and an interpreted fallback.
 *
 * Invariants: `TypeCompiler` generates code with `new Function`, which a strict Content Security
 * Policy forbids (EvalError); then every checker falls back to `Value.Check`/`Value.Errors`, which
 * accept and reject exactly the same values, only slower. Checkers are cached per schema object.
 */
import type { Static, TSchema } from '@sinclair/typebox';
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
