import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so several servers in one test process do not share counters. */
export const createMetrics = (options: { defaultMetrics?: boolean } = {}) => {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hale_' });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
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
      help: 'Bytes received and sent over WebSocket and HTTP bodies',
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
};

export type Metrics = ReturnType<typeof createMetrics>;
