/**
 * A clock for measuring spans (rate-limit refills, audit windows) from an injected wall clock: the time
 * that clock moved forward since the first reading, with a step back counted as no time passing.
 *
 * Why: the server's clock is Date.now (tests inject their own), which NTP or an operator may step back.
 * Spans measured on it directly grow by the step: a rate-limit bucket owed an hour of refills refused its
 * client for the hour, and a live audit window armed its end timer an hour late. Decisions that need the
 * wall clock itself (grant starts and ends, the audit cap's day) keep reading it.
 */
export const forwardClock = (now: () => number): (() => number) => {
  let read = now();
  let forward = 0;
  return () => {
    const t = now();
    if (t > read) forward += t - read;
    read = t;
    return forward;
  };
};
