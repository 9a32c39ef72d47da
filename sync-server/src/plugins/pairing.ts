/**
 * The pairing relay's routes (`PAIRING_ROUTES`): a new device opens a mailbox, one signed-in device
 * claims it by its code, and the two exchange the messages of @hale/protocol's pairing.ts through it.
 *
 * | limit | value |
 * |---|---|
 * | body | PAIRING_MAX_BODY_BYTES per request |
 * | creations and claims | a bucket per address (`pairingRateLimit`): 1/s, burst 10 by default |
 * | open pairings | DEFAULT_MAX_OPEN_PAIRINGS per node, DEFAULT_MAX_OPEN_PAIRINGS_PER_ADDRESS per address |
 * | lifetime | PAIRING_TTL_MS; a read waits PAIRING_MAX_WAIT_MS at most |
 *
 * Invariants: the relay learns public keys, nonces, a hash and sealed boxes, never a root or a name
 * (pairing-relay.ts); the side tokens are bearer tokens of their own, never sessions; the app-wide
 * per-address bucket applies as to every route. Nothing is written to the store or the log.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  PAIRING_MAX_BODY_BYTES,
  PAIRING_ROUTES,
  PairingToken,
  validate,
  type HttpPairingCreateRequest,
  type HttpPairingMessagesQuery,
  type HttpPairingParams,
  type PairingMessage,
} from '@hale/protocol';
import type { ServerConfig } from '../config';
import type { AppContext } from '../context';
import { createRateLimiter } from '../core/rate-limit';
import { ServiceError } from '../core/service-error';
import { createPairingRelay, type PairingRelayState } from './pairing-relay';

/** Creations and claims per address: a hundredth of the per-address rate, a twentieth of its burst. */
export const pairingRateLimit = (config: ServerConfig): { perSecond: number; burst: number } => ({
  perSecond: Math.max(0.05, config.rateLimitPerAddress.perSecond / 100),
  burst: Math.max(5, Math.floor(config.rateLimitPerAddress.burst / 20)),
});

const bearer = (request: FastifyRequest): string => {
  const header = request.headers.authorization;
  const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
  if (!validate(PairingToken, token).ok) {
    throw new ServiceError('UNAUTHENTICATED', 'a pairing side token is required (Authorization: Bearer …)');
  }
  return token;
};

export const pairingPlugin: FastifyPluginAsync<{ ctx: AppContext; relay?: PairingRelayState }> = async (
  app,
  { ctx, relay: given },
) => {
  const relay = given ?? createPairingRelay({ now: ctx.now });
  const limiter = createRateLimiter({ ...pairingRateLimit(ctx.config), now: ctx.now });
  const spend = (request: FastifyRequest): void => {
    const key = `pair:${ctx.clientAddress(request)}`;
    if (!limiter.take(key)) {
      throw new ServiceError('RATE_LIMITED', 'too many pairing codes from this address; wait a little', {
        retryAfterMs: limiter.retryAfterMs(key),
      });
    }
  };
  // Long polls would hold a closing server until they time out; answered, their keep-alive connection
  // (busy when the server began closing, so not closed as idle) must close too.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    relay.close();
    done();
  });

  app.post<{ Body: HttpPairingCreateRequest }>(
    PAIRING_ROUTES.create.url,
    { schema: PAIRING_ROUTES.create.schema, bodyLimit: PAIRING_MAX_BODY_BYTES },
    async (request, reply) => {
      spend(request);
      const created = relay.create(request.body.commit, ctx.clientAddress(request));
      return reply.code(201).send(created);
    },
  );

  app.post<{ Params: HttpPairingParams }>(
    PAIRING_ROUTES.claim.url,
    { schema: PAIRING_ROUTES.claim.schema, bodyLimit: PAIRING_MAX_BODY_BYTES },
    async (request) => {
      spend(request);
      return relay.claim(request.params.code);
    },
  );

  app.post<{ Params: HttpPairingParams; Body: PairingMessage }>(
    PAIRING_ROUTES.post.url,
    { schema: PAIRING_ROUTES.post.schema, bodyLimit: PAIRING_MAX_BODY_BYTES },
    async (request) => relay.post(request.params.code, bearer(request), request.body),
  );

  app.get<{ Params: HttpPairingParams; Querystring: HttpPairingMessagesQuery }>(
    PAIRING_ROUTES.messages.url,
    { schema: PAIRING_ROUTES.messages.schema },
    async (request, reply) => {
      const token = bearer(request);
      const answer = await relay.read(
        request.params.code,
        token,
        request.query.after,
        request.query.waitMs ?? 0,
      );
      if (closing) void reply.header('connection', 'close');
      return answer;
    },
  );
};
