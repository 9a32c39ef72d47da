import type { FastifyPluginAsync } from 'fastify';
import { HTTP_ROUTES, PROTOCOL_VERSION } from '@hale/protocol';
import type { AppContext } from '../context';

/** /healthz answers 200 only when the store is usable; /metrics is Prometheus text. */
export const healthPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(HTTP_ROUTES.health.url, { schema: HTTP_ROUTES.health.schema }, async (_request, reply) => {
    const health = await ctx.store.health().catch((error: unknown) => ({
      ok: false,
      backend: 'unknown',
      detail: error instanceof Error ? error.message : String(error),
    }));
    if (!health.ok) {
      return reply
        .code(503)
        .send({ code: 'UNAVAILABLE', message: `store unavailable: ${health.detail ?? ''}` });
    }
    return { status: 'ok' as const, store: health.backend, version: String(PROTOCOL_VERSION) };
  });
  app.get('/metrics', async (_request, reply) => {
    ctx.metrics.connections.set({ state: 'authenticated' }, ctx.hub.size());
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
};
