/**
 * A value a screen shows, as a subscribe/get pair (React's `useSyncExternalStore` takes `subscribe` and
 * `get` as they are) and as an RxJS Observable (`$`).
 *
 * | invariant | how |
 * |---|---|
 * | `get()` is synchronous and stable | the last value emitted; the same object until the next emission |
 * | `get()` with nothing listening | the value now where it can be read at once (sync state, grants received, uploads…); a record list's last value known |
 * | `subscribe` listens, never replays | the listener is called after each new value, not for the current one |
 * | `$` replays | a subscriber gets the current value at once, then each new one |
 * | one source subscription | shared by every listener; made at the first listener, ended at the last |
 *
 * | `loaded()` tells a value from the stand-in | true once the source emitted; at once for a source read synchronously (a BehaviorSubject, `peek`) |
 *
 * Failure modes: a source that errors keeps its last value in `get()` and its error in `error()`;
 * listeners are called once more so that a screen re-reads both. A completed source (a closed session)
 * keeps its last value.
 */
import { BehaviorSubject, Observable, type Subscription } from 'rxjs';

/** A value that changes over time: read it now (`get`) or follow it (`subscribe`), as a screen binds it. */
export interface Observed<T> {
  /** The current value (the initial one until the source emitted). */
  readonly get: () => T;
  /** Called after every change; returns the function that stops it. */
  readonly subscribe: (listener: () => void) => () => void;
  /** Emits the current value at once, then every change. */
  readonly $: Observable<T>;
  /** The error the source ended with, if it did. */
  readonly error: () => unknown;
  /**
   * Whether `get()` is a value read from the source, not the initial stand-in: an empty list that is
   * loaded means "none", one that is not means "not read yet". Listeners are called when it turns true.
   */
  readonly loaded: () => boolean;
}

/**
 * An Observed over a source Observable, with `initial` until the source's first value. The source is
 * subscribed while something listens; while nothing does, `get()` reads a BehaviorSubject source's value,
 * else `peek()` when given (the value now, read synchronously; kept while equal as JSON, so `get()` stays
 * the same object), and otherwise returns the last value known.
 */
export function observedFrom<T>(source: Observable<T>, initial: T, peek?: () => T): Observed<T> {
  const current = new BehaviorSubject<T>(initial);
  let failure: unknown;
  let emitted = source instanceof BehaviorSubject || peek !== undefined;
  let subscription: Subscription | null = null;
  let listeners = 0;
  const connect = (): void => {
    if (subscription !== null) return;
    subscription = source.subscribe({
      next: (value) => {
        emitted = true;
        current.next(value);
      },
      error: (e: unknown) => {
        failure = e;
        current.next(current.value);
      },
    });
  };
  const disconnect = (): void => {
    subscription?.unsubscribe();
    subscription = null;
  };
  const get = (): T => {
    // Nothing listens: a source that holds a value (a BehaviorSubject) is read; any other is not started.
    if (subscription === null && source instanceof BehaviorSubject) current.next(source.value as T);
    else if (subscription === null && peek !== undefined) {
      const now = peek();
      if (JSON.stringify(now) !== JSON.stringify(current.value)) current.next(now);
    }
    return current.value;
  };
  const subscribe = (listener: () => void): (() => void) => {
    listeners += 1;
    connect();
    let first = true;
    const sub = current.subscribe(() => {
      if (first) {
        first = false;
        return;
      }
      listener();
    });
    return () => {
      sub.unsubscribe();
      listeners -= 1;
      if (listeners === 0) disconnect();
    };
  };
  const $ = new Observable<T>((subscriber) => {
    listeners += 1;
    connect();
    const sub = current.subscribe(subscriber);
    return () => {
      sub.unsubscribe();
      listeners -= 1;
      if (listeners === 0) disconnect();
    };
  });
  return { get, subscribe, $, error: () => failure, loaded: () => emitted };
}

/** An Observed of a value this module sets itself (`set`). */
export function observedValue<T>(initial: T): Observed<T> & { readonly set: (value: T) => void } {
  const subject = new BehaviorSubject<T>(initial);
  return { ...observedFrom(subject, initial), set: (value: T) => subject.next(value) };
}
