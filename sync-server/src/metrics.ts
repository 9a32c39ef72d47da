import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import { CLIENT_FRAMES, ERROR_CODE_LIST, SERVER_FRAMES } from '@hale/protocol';

/**
 * The outcome label values, the one list each: the producers are typed with them (sync-ws.ts counts pulls,
 * the service's onPush pushes), so a value counted is a series started at 0 below.
 */
export const PULL_OUTCOMES = ['ok', 'partly-denied'] as const;
export type PullOutcome = (typeof PULL_OUTCOMES)[number];
/** A pushed row's result status (protocol PushResult): onPush passes it on, so every status must be here. */
export const PUSH_OUTCOMES = ['ok', 'conflict', 'error'] as const;
export type PushOutcome = (typeof PUSH_OUTCOMES)[number];

/**
 * One registry per app instance, so several servers in one test process do not share counters.
 *
 * Every series whose label values are known in advance (the protocol's error codes and frame types, the
 * outcomes, the directions) exists from the start at 0. prom-client only shows a labelled series once it
 * is first touched, so an alert on `hale_refusals_total{code="INTERNAL"}` would see no series (absent())
 * on a healthy fresh server, and rate() would miss the first increment. No other label value is made up.
 */
export const createMetrics = (options: { defaultMetrics?: boolean } = {}) => {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hale_' });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  const metrics = {
    registry,
    connections: new Gauge({
      name: 'hale_ws_connections',
      help: 'Open WebSocket connections',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    messages: new Counter({
      name: 'hale_ws_messages_total',
      help: 'WebSocket frames by direction and type',
      labelNames: ['direction', 'type'] as const,
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'hale_bytes_total',
      help: 'Bytes of WebSocket frames received and sent (HTTP bodies are not counted)',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    pulls: new Counter({
      name: 'hale_pulls_total',
      help: 'Pull requests by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    pulledDocs: new Counter({
      name: 'hale_pulled_docs_total',
      help: 'Documents served by pull',
      registers: [registry],
    }),
    pushes: new Counter({
      name: 'hale_pushes_total',
      help: 'Pushed rows by outcome (ok, conflict, error)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    liveDocs: new Counter({
      name: 'hale_live_docs_total',
      help: 'Documents delivered live',
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'hale_refusals_total',
      help: 'Requests refused, by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'hale_request_duration_seconds',
      help: 'Handling latency by operation',
      labelNames: ['op'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
  };
  for (const state of ['open', 'authenticated'] as const) metrics.connections.set({ state }, 0);
  for (const direction of ['in', 'out'] as const) metrics.bytes.inc({ direction }, 0);
  for (const type of Object.keys(CLIENT_FRAMES)) metrics.messages.inc({ direction: 'in', type }, 0);
  for (const type of Object.keys(SERVER_FRAMES)) metrics.messages.inc({ direction: 'out', type }, 0);
  for (const outcome of PULL_OUTCOMES) metrics.pulls.inc({ outcome }, 0);
  for (const outcome of PUSH_OUTCOMES) metrics.pushes.inc({ outcome }, 0);
  for (const code of ERROR_CODE_LIST) metrics.refusals.inc({ code }, 0);
  for (const op of ['pull', 'push'] as const) metrics.latency.zero({ op });
  return metrics;
};

export type Metrics = ReturnType<typeof createMetrics>;
