/*
 * Work written as a generator that yields where a slice of it may end: run at once (`runSteps`), or in
 * slices of about `sliceMs` with `pause()` awaited between them (`runStepsInSlices`: a page's event loop
 * runs there, so no long task).
 */

/** Runs `steps` to its end at once; answers what it returns. */
export const runSteps = <R>(steps: Generator<void, R>): R => {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
};

/** Runs `steps` in slices of about `sliceMs` of work, `pause()` awaited between them. */
export const runStepsInSlices = async <R>(
  steps: Generator<void, R>,
  pause: () => Promise<void>,
  sliceMs: number,
): Promise<R> => {
  let began = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - began >= sliceMs) {
      await pause();
      began = performance.now();
    }
  }
};
