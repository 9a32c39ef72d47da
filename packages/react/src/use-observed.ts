/**
 * `useObserved(o)`: the current value of an `Observed`, re-rendering on each change
 * (`useSyncExternalStore` over its subscribe/get pair); `useLoaded(o)`: whether that value was read yet.
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

/** Whether an `Observed` holds a value read from its source yet (see `Observed.loaded`), re-rendering when it does. */
export function useLoaded(observed: Observed<unknown>): boolean {
  return useSyncExternalStore(observed.subscribe, observed.loaded, observed.loaded);
}
