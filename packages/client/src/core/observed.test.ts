// The Observed contract a screen relies on: get() stable between changes, subscribe() not replaying,
// `$` replaying, one source subscription, get() reading the value now while nothing listens, and loaded()
// telling a value read from the stand-in.
import { describe, expect, it } from 'vitest';
import { BehaviorSubject, Subject, defer, firstValueFrom } from 'rxjs';
import { observedFrom, observedValue } from './observed';

describe('observedFrom', () => {
  it('subscribe() is told of changes only; `$` gives the current value at once', async () => {
    const source = new Subject<number>();
    const o = observedFrom(source, 0);
    const told: number[] = [];
    const stop = o.subscribe(() => told.push(o.get()));
    expect(told).toEqual([]);
    source.next(1);
    source.next(2);
    expect(told).toEqual([1, 2]);
    expect(await firstValueFrom(o.$)).toBe(2);
    stop();
  });

  it('one source subscription however many listen, ended with the last', () => {
    let subscribed = 0;
    const source = new Subject<number>();
    const o = observedFrom(
      defer(() => {
        subscribed += 1;
        return source;
      }),
      0,
    );
    const a = o.subscribe(() => undefined);
    const b = o.$.subscribe(() => undefined);
    expect(subscribed).toBe(1);
    a();
    b.unsubscribe();
    o.subscribe(() => undefined)();
    expect(subscribed).toBe(2);
  });

  it('get() is the same object until the source emits', () => {
    const source = new Subject<{ n: number }>();
    const o = observedFrom(source, { n: 0 });
    const stop = o.subscribe(() => undefined);
    const first = o.get();
    expect(o.get()).toBe(first);
    source.next({ n: 1 });
    expect(o.get()).not.toBe(first);
    stop();
  });

  it('while nothing listens, get() reads a BehaviorSubject, or peek(), kept while equal', () => {
    const state = new BehaviorSubject(1);
    expect(observedFrom(state, 0).get()).toBe(1);

    let now = { total: 3 };
    const o = observedFrom(new Subject<{ total: number }>(), { total: 0 }, () => ({ ...now }));
    const first = o.get();
    expect(first).toEqual({ total: 3 });
    // Equal as JSON: the same object (React's useSyncExternalStore needs that).
    expect(o.get()).toBe(first);
    now = { total: 4 };
    expect(o.get()).toEqual({ total: 4 });
    // Without peek: the last value known (here the initial one).
    expect(observedFrom(new Subject<number>(), 7).get()).toBe(7);
  });

  it('loaded() is false until the source emits; a source read at once is loaded from the start', () => {
    const source = new Subject<number>();
    const o = observedFrom(source, 0);
    const stop = o.subscribe(() => undefined);
    expect(o.loaded()).toBe(false);
    source.next(0);
    expect(o.loaded()).toBe(true);
    stop();
    expect(observedFrom(new BehaviorSubject(1), 0).loaded()).toBe(true);
    expect(observedFrom(new Subject<number>(), 0, () => 3).loaded()).toBe(true);
  });

  it('a source that fails keeps its last value and its error; listeners are told once more', () => {
    const source = new Subject<number>();
    const o = observedFrom(source, 0);
    let told = 0;
    const stop = o.subscribe(() => (told += 1));
    source.next(5);
    source.error(new Error('LOCKED'));
    expect(o.get()).toBe(5);
    expect((o.error() as Error).message).toBe('LOCKED');
    expect(told).toBe(2);
    stop();
  });
});

describe('observedValue', () => {
  it('is set by its owner', () => {
    const v = observedValue('a');
    v.set('b');
    expect(v.get()).toBe('b');
  });
});
