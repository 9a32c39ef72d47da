/**
 * Headers every answer of the server carries, whoever writes it: a route, a refusal in a hook, the error
 * and not-found handlers (set in the first onRequest hook, which Fastify keeps on those answers), an
 * answer given before routing (frameworkErrors in app.ts) and a refusal written below Fastify (a request
 * Node's parser gave up on, a WebSocket handshake ws refused: `rawRefusal` in app.ts).
 *
 * Invariants:
 * - `X-Content-Type-Options: nosniff` on every answer: a browser takes each as the type it declares. An
 *   error envelope or a manifest holding text from a request (a recipient's name, a path) is never
 *   guessed into HTML or script; the JWE of `/shl/file/:ticket` stays `application/jose`.
 * - `Strict-Transport-Security: max-age=31536000` on every answer when this process serves HTTPS itself
 *   (`--tls-cert`, app.ts `https`), so a browser that came once over HTTPS never goes to this host over
 *   plain HTTP again. Without subdomains (a self-hoster's other hosts are not this server's to decide) and
 *   not preloaded. Over plain HTTP it is not sent (browsers ignore it there, RFC 6797 §8.1), nor behind a
 *   TLS proxy, whose answers the proxy sets (docs/operations.md).
 * Failure modes: none; the values are fixed at start.
 */
import type { FastifyInstance } from 'fastify';

/** A year: what browsers' preload list asks for, and long enough to outlast a visit's gap. */
export const HSTS_MAX_AGE_SECONDS = 31_536_000;

/** The headers of every answer; `https`: this process serves HTTPS itself. */
export const securityHeaders = (https: boolean): Readonly<Record<string, string>> => ({
  'x-content-type-options': 'nosniff',
  ...(https ? { 'strict-transport-security': `max-age=${HSTS_MAX_AGE_SECONDS}` } : {}),
});

/** Sets them on every answer that passes Fastify's hooks: registered first, before any hook can refuse. */
export const registerSecurityHeaders = (app: FastifyInstance, https: boolean): void => {
  const headers = securityHeaders(https);
  app.addHook('onRequest', async (_request, reply) => {
    void reply.headers(headers);
  });
};
