/**
 * `useObserved(o)`: the current value of an `Observed`, re-rendering on each change
 * (`useSyncExternalStore` over its subscribe/get pair); `useObservedPart(o, part)`: one part of it,
 * re-rendering only when that part changes; `useLoaded(o)`: whether that value was read yet.
 *
 * | invariant | how |
 * |---|---|
 * | no tearing | `get()` is stable between emissions (see `Observed`) |
 * | one subscription per mounted component | React subscribes at mount, unsubscribes at unmount |
 */
import { useSyncExternalStore } from 'react';
import type { Observed } from '@hale/client';

export function useObserved<T>(observed: Observed<T>): T {
  return useSyncExternalStore(observed.subscribe, observed.get, observed.get);
}

/**
 * `part` of an `Observed`'s value, re-rendering only when the part changes (`Object.is`): a component that
 * needs one field of a value that changes often (the sync state during a sync) is not drawn again for the
 * rest. `part` must answer a primitive, or a value that is the same object until it changes.
 */
export function useObservedPart<T, P>(observed: Observed<T>, part: (value: T) => P): P {
  const read = (): P => part(observed.get());
  return useSyncExternalStore(observed.subscribe, read, read);
}

/** Whether an `Observed` holds a value read from its source yet (see `Observed.loaded`), re-rendering when it does. */
export function useLoaded(observed: Observed<unknown>): boolean {
  return useSyncExternalStore(observed.subscribe, observed.loaded, observed.loaded);
}
