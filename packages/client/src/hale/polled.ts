/**
 * A value read by an async call (grants, audit views, devices): read at first listen, again at every
 * `refresh$` emission and every `everyMs` while something listens.
 *
 * Invariants: a newer read replaces one under way (answers never arrive out of order); an answer equal
 * (as JSON) to the one shown emits nothing. Failure modes: a failed read keeps what was shown (the sync
 * issues say why), and the next read that succeeds is shown.
 */
import type { Observable } from 'rxjs';
import { distinctUntilChanged, filter, from, merge, switchMap, timer } from 'rxjs';
import { observedFrom, type Observed } from '../core/observed';

export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const FAILED: unique symbol = Symbol('failed');

export function polled<T>(
  read: () => Promise<T>,
  initial: T,
  refresh$: Observable<unknown>,
  everyMs: number,
): Observed<T> {
  const source: Observable<T> = merge(refresh$, timer(0, everyMs)).pipe(
    switchMap(() => from(read().catch((): typeof FAILED => FAILED))),
    filter((v): v is T => v !== FAILED),
    distinctUntilChanged<T>(sameJson),
  );
  return observedFrom<T>(source, initial);
}
