/**
 * SMART Health Links (protocol/src/shl.ts has the routes): a patient device stores a link's content as a
 * JWE it encrypted, with an optional passcode and expiry; anyone holding the link asks for the manifest
 * (`POST /shl/:token`) without an account.
 *
 * Invariants:
 * - The server keeps ciphertext only, finds a link by the SHA-256 of its token (the token itself is not
 *   stored), and keeps a passcode as scrypt (N 2^14, r 8, p 1, 16-byte salt), compared in constant time.
 * - In clear only a link's record types; sealed to the patient's wrapping key for the link (shl-seal.ts):
 *   its label and counts (`sealed`, by the device; an old app's clear ones sealed here on receipt) and each
 *   viewer's `recipient` (sealed on receipt, before anything is written or logged).
 * - A manifest is served only for a link neither revoked, expired nor locked, with the right passcode
 *   when it has one: a wrong one takes one of SHL_PASSCODE_ATTEMPTS tries (401 `remainingAttempts`);
 *   then the link is locked (404, as the spec answers a link that no longer works). Every attempt is logged
 *   in the link's access log, at the time it was decided, concurrent ones too: one that found the link
 *   locked or revoked by an attempt that committed first is logged `refused` (shl-types.ts), so 41
 *   guesses at once leave 41 entries (3 `wrong-passcode`, 38 `refused`) for the patient's devices to
 *   tell; an opening is also an access event in the patient's audit trail (one per stream type the link
 *   carries, actor the link's id, count 0: counts are sealed), sealed to the patient and pushed live to
 *   their devices like any access event.
 * - A one-time link (`oneTime`) opens once: the store revokes it in the write that counts that opening.
 * - Only the patient (a patient device of the account) creates, lists and revokes its links.
 * - The patient's devices hear of every attempt at once: `GET /v1/shl/events` answers the accesses after
 *   `since` (ISO), waiting up to `waitMs` (≤ SHL_EVENTS_WAIT_MS) for one when there is none yet. The wait
 *   is woken by every access logged here (any outcome), and, on a store several nodes share, by every
 *   access logged through another node (`store.shl.onRemoteAccess`: the CouchDB store's `_changes`
 *   feed, no second bus).
 * - A manifest embeds the content unless the viewer's `embeddedLengthMax` is smaller: then a `location`
 *   with a one-time ticket valid SHL_TICKET_MS.
 * - The manifest and file routes answer pages of any origin (CORS `*`, their preflights included: cors.ts),
 *   as viewers on other sites must open Hale links; the viewer page here may not be framed by any page
 *   (SHL_VIEWER_CSP `frame-ancestors 'none'`, `X-Frame-Options: DENY`).
 * Failure modes: ServiceError envelopes (BAD_MESSAGE by schema, FORBIDDEN, NOT_FOUND, ALREADY_EXISTS;
 * INTERNAL, nothing written, when the patient's stored wrapping key is damaged);
 * the public routes answer 404 for any link that does not work, so they tell nothing of why.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { base64urlDecode, sealLinkDetails, sealLinkRecipient } from '@hale/crypto';
import { createNodeSealX25519 } from '@hale/crypto/node';
import {
  SHL_PASSCODE_ATTEMPTS,
  ShlCreateRequest,
  ShlLinkParams,
  ShlManifestRequest,
  ShlTicketParams,
  ShlTokenParams,
  ShlEventsQuery,
  type ShlAccessInfo,
  type ShlAccessesResponse,
  type ShlEventsResponse,
  type ShlLinkDetails,
  type ShlLinkInfo,
  type ShlListResponse,
  type ShlManifest,
} from '@hale/protocol';
import type { AppContext } from '../context';
import { ServiceError } from '../core/sync-service';
import {
  isStoreError,
  type ShlAccess,
  type ShlAccessWrite,
  type ShlLink,
  type ShlLinkListing,
} from '../store/index';
import { SHL_VIEWER_HTML, SHL_VIEWER_SCRIPT } from './shl-viewer';

/** Longest wait of an events request. */
export const SHL_EVENTS_WAIT_MS = 30_000;

/** How long a manifest's `location` works. */
export const SHL_TICKET_MS = 5 * 60_000;

/**
 * The viewer page's policy: its own script and requests to this origin only, and no page may frame it
 * (`frame-ancestors 'none'`, with `X-Frame-Options: DENY` for browsers older than it). The page holds the
 * link's key and shows the decrypted summary and a passcode field: framed in a page of another site, it
 * could be dressed up to get a passcode typed, or clicked through, by someone who thinks they are here.
 */
export const SHL_VIEWER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const scryptAsync = (passcode: string, salt: Buffer): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(passcode, salt, 32, { N: 16384, r: 8, p: 1 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );

const hashPasscode = async (passcode: string): Promise<string> => {
  const salt = randomBytes(16);
  const key = await scryptAsync(passcode, salt);
  return `scrypt$16384$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
};

const passcodeMatches = async (passcode: string, stored: string): Promise<boolean> => {
  const [, , , , salt, hash] = stored.split('$');
  if (salt === undefined || hash === undefined) return false;
  const key = await scryptAsync(passcode, Buffer.from(salt, 'base64url'));
  const expected = Buffer.from(hash, 'base64url');
  return expected.length === key.length && timingSafeEqual(expected, key);
};

const info = (l: ShlLinkListing): ShlLinkInfo => ({
  linkId: l.linkId,
  ...(l.sealed === undefined ? {} : { sealed: l.sealed }),
  types: l.types as NonNullable<ShlLinkInfo['types']>,
  ...(l.label === undefined ? {} : { label: l.label }),
  passcode: l.passcode,
  emergency: l.emergency,
  ...(l.oneTime === true ? { oneTime: true } : {}),
  createdAt: l.createdAt,
  ...(l.expiresAt === undefined ? {} : { expiresAt: l.expiresAt }),
  ...(l.revokedAt === undefined ? {} : { revokedAt: l.revokedAt }),
  attemptsLeft: l.attemptsLeft,
  accessCount: l.accessCount,
  ...(l.lastAccessAt === undefined ? {} : { lastAccessAt: l.lastAccessAt }),
  // Apps from before sealing require `contents`: a sealed link lists none in clear.
  contents: (l.contents ?? []).map((c) => ({
    type: c.type as ShlLinkInfo['contents'][number]['type'],
    count: c.count,
  })),
});

/** An access as answered: a sealed one with `recipient: ''`, which apps from before sealing require. */
const accessInfo = (a: ShlAccess): ShlAccessInfo =>
  'sealedRecipient' in a
    ? { at: a.at, outcome: a.outcome, recipient: '', sealedRecipient: a.sealedRecipient }
    : { at: a.at, outcome: a.outcome, recipient: a.recipient };

const gone = (reply: FastifyReply) =>
  reply
    .code(404)
    .send({ code: 'NOT_FOUND', message: 'this link does not work: unknown, expired, revoked or locked' });

export const shlPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const iso = () => new Date(ctx.now()).toISOString();
  const x25519 = createNodeSealX25519();
  /** The patient's published wrapping key, which every sealing here is to; INTERNAL when unreadable. */
  const wrappingKeyOf = async (patientId: string): Promise<Uint8Array> => {
    const account = await ctx.store.accounts.get(patientId);
    const key = account === null ? null : base64urlDecode(account.wrappingPublicKey);
    if (key === null || !key.ok || key.value.length !== 32)
      throw new ServiceError('INTERNAL', `the wrapping key of ${patientId} is missing or damaged`);
    return key.value;
  };
  // Devices waiting for their patient's link accesses (in-process; see the header).
  const waiting = new Map<string, Set<() => void>>();
  const wake = (patientId: string): void => {
    for (const resolve of [...(waiting.get(patientId) ?? [])]) resolve();
  };
  /**
   * Logs an access at the time it is decided (after the passcode check, not when the request came in), so
   * the log's times follow the order its entries commit in, which `GET /v1/shl/events` reads by.
   */
  const recordAccess = async (link: ShlLink, access: Omit<ShlAccessWrite, 'at'>) => {
    const after = await ctx.store.shl.recordAccess(link.linkId, { ...access, at: iso() });
    wake(link.patientId);
    return after;
  };
  const unsubscribe = ctx.store.shl.onRemoteAccess?.((access) => wake(access.patientId));
  // Before Fastify waits for requests in flight: a held events request answers at once.
  app.addHook('preClose', (done) => {
    unsubscribe?.();
    for (const patientId of [...waiting.keys()]) wake(patientId);
    done();
  });
  const owner = async (request: FastifyRequest) => {
    const principal = await ctx.authenticate(request);
    if (principal.role !== 'patient')
      throw new ServiceError('FORBIDDEN', 'only a patient shares its own records');
    return principal;
  };

  app.post<{ Body: ShlCreateRequest }>(
    '/v1/shl',
    { schema: { body: ShlCreateRequest }, bodyLimit: 6 * 1024 * 1024 },
    async (request): Promise<ShlLinkInfo> => {
      const principal = await owner(request);
      const body = request.body;
      if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= ctx.now()) {
        throw new ServiceError('BAD_MESSAGE', 'expiresAt is in the past');
      }
      if (body.emergency && body.oneTime === true) {
        throw new ServiceError('BAD_MESSAGE', 'an emergency link opens for every responder: not one-time');
      }
      if (body.emergency && body.passcode !== undefined) {
        throw new ServiceError(
          'BAD_MESSAGE',
          'an emergency link has no passcode: it must open for whoever helps',
        );
      }
      // An app from before sealing sends the label and counts in clear: sealed here, as its device would.
      const sealed =
        'sealed' in body
          ? { types: body.types, sealed: body.sealed }
          : {
              types: [...new Set(body.contents.map((c) => c.type))],
              sealed: sealLinkDetails(
                JSON.stringify({
                  ...(body.label === undefined ? {} : { label: body.label }),
                  contents: body.contents,
                } satisfies ShlLinkDetails),
                await wrappingKeyOf(principal.accountId),
                body.linkId,
                x25519,
              ),
            };
      const link = {
        linkId: body.linkId,
        tokenHash: sha256Hex(body.token),
        patientId: principal.accountId,
        ...sealed,
        ...(body.passcode === undefined ? {} : { passcodeHash: await hashPasscode(body.passcode) }),
        attemptsLeft: SHL_PASSCODE_ATTEMPTS,
        emergency: body.emergency,
        ...(body.oneTime === true ? { oneTime: true } : {}),
        contentType: body.contentType,
        jwe: body.jwe,
        createdAt: iso(),
        ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
      };
      try {
        await ctx.store.shl.create(link);
      } catch (error) {
        if (isStoreError(error, 'ALREADY_EXISTS'))
          throw new ServiceError('ALREADY_EXISTS', 'this link id or token is taken');
        throw error;
      }
      const [listed] = (await ctx.store.shl.list(principal.accountId, 1000)).filter(
        (l) => l.linkId === link.linkId,
      );
      if (listed === undefined) throw new ServiceError('INTERNAL', 'the link was not stored');
      return info(listed);
    },
  );

  app.get('/v1/shl', async (request): Promise<ShlListResponse> => {
    const principal = await owner(request);
    return { links: (await ctx.store.shl.list(principal.accountId, 1000)).map(info) };
  });

  app.delete<{ Params: { linkId: string } }>(
    '/v1/shl/:linkId',
    { schema: { params: ShlLinkParams } },
    async (request): Promise<ShlLinkInfo> => {
      const principal = await owner(request);
      try {
        return info(await ctx.store.shl.revoke(principal.accountId, request.params.linkId, iso()));
      } catch (error) {
        if (isStoreError(error, 'NOT_FOUND'))
          throw new ServiceError('NOT_FOUND', 'no such link of this account');
        throw error;
      }
    },
  );

  app.get<{ Params: { linkId: string } }>(
    '/v1/shl/:linkId/accesses',
    { schema: { params: ShlLinkParams } },
    async (request): Promise<ShlAccessesResponse> => {
      const principal = await owner(request);
      try {
        const accesses = await ctx.store.shl.accesses(principal.accountId, request.params.linkId, 1000);
        return { accesses: accesses.map(accessInfo) };
      } catch (error) {
        if (isStoreError(error, 'NOT_FOUND'))
          throw new ServiceError('NOT_FOUND', 'no such link of this account');
        throw error;
      }
    },
  );

  app.get<{ Querystring: { since: string; waitMs?: number } }>(
    '/v1/shl/events',
    { schema: { querystring: ShlEventsQuery } },
    async (request): Promise<ShlEventsResponse> => {
      const principal = await owner(request);
      const { since } = request.query;
      const read = () => ctx.store.shl.accessesSince(principal.accountId, since, 500);
      let accesses = await read();
      const waitMs = Math.min(request.query.waitMs ?? 0, SHL_EVENTS_WAIT_MS);
      if (accesses.length === 0 && waitMs > 0) {
        await new Promise<void>((resolve) => {
          const set = waiting.get(principal.accountId) ?? new Set<() => void>();
          waiting.set(principal.accountId, set);
          const done = () => {
            clearTimeout(timer);
            set.delete(done);
            if (set.size === 0) waiting.delete(principal.accountId);
            resolve();
          };
          const timer = setTimeout(done, waitMs);
          set.add(done);
          request.raw.once('close', done);
        });
        accesses = await read();
      }
      return { accesses: accesses.map((a) => ({ linkId: a.linkId, ...accessInfo(a) })), now: iso() };
    },
  );

  const logOpened = async (link: ShlLink): Promise<void> => {
    const actor = { accountId: link.linkId, deviceId: link.linkId, role: 'provider' as const };
    await ctx.service.recordGranteeAccess(
      actor,
      link.types.map((type) => ({
        action: 'link-open' as const,
        stream: `${link.patientId}/${type}`,
        count: 0,
      })),
    );
  };

  // The public routes' CORS headers (any origin) are set in cors.ts, before the address bucket; the
  // API's CORS stays off them (`cors: false`). Their preflights are answered there too: these OPTIONS
  // routes only give the preflight a route to find (else it would be an unknown path's 404).
  const preflight = async (_request: FastifyRequest, reply: FastifyReply) => reply.code(204).send();
  app.options('/shl/:token', { config: { cors: false } }, preflight);
  app.options('/shl/file/:ticket', { config: { cors: false } }, preflight);

  app.post<{ Params: { token: string }; Body: ShlManifestRequest }>(
    '/shl/:token',
    { schema: { params: ShlTokenParams, body: ShlManifestRequest }, config: { cors: false } },
    async (request, reply) => {
      const link = await ctx.store.shl.byToken(sha256Hex(request.params.token));
      if (link === null) return gone(reply);
      // Sealed before anything is written: the store, the log and the events see only this.
      const sealedRecipient = sealLinkRecipient(
        request.body.recipient,
        await wrappingKeyOf(link.patientId),
        link.linkId,
        x25519,
      );
      const expired = link.expiresAt !== undefined && Date.parse(link.expiresAt) <= ctx.now();
      if (link.revokedAt !== undefined || expired || link.attemptsLeft === 0) {
        await recordAccess(link, { outcome: 'refused', sealedRecipient });
        return gone(reply);
      }
      if (link.passcodeHash !== undefined) {
        const given = request.body.passcode;
        if (given === undefined || !(await passcodeMatches(given, link.passcodeHash))) {
          // Null: locked or revoked by an attempt that committed first (logged as refused by the store).
          const after = await recordAccess(link, { outcome: 'wrong-passcode', sealedRecipient });
          if (after === null) return gone(reply);
          return reply.code(401).send({
            code: 'UNAUTHENTICATED',
            message: 'wrong passcode',
            remainingAttempts: after.attemptsLeft,
          });
        }
      }
      const opened = await recordAccess(link, { outcome: 'opened', sealedRecipient });
      if (opened === null) return gone(reply);
      await logOpened(link);
      const max = request.body.embeddedLengthMax;
      let file: ShlManifest['files'][number];
      if (max !== undefined && link.jwe.length > max) {
        const ticket = randomBytes(32).toString('base64url');
        await ctx.store.shl.putTicket(link.linkId, sha256Hex(ticket), ctx.now() + SHL_TICKET_MS);
        const base = `${request.protocol}://${request.headers.host ?? 'localhost'}`;
        file = {
          contentType: link.contentType,
          location: `${base}/shl/file/${ticket}`,
          lastUpdated: link.createdAt,
        };
      } else {
        file = { contentType: link.contentType, embedded: link.jwe, lastUpdated: link.createdAt };
      }
      const manifest: ShlManifest = { files: [file], status: 'finalized' };
      return reply.code(200).send(manifest);
    },
  );

  app.get<{ Params: { ticket: string } }>(
    '/shl/file/:ticket',
    { schema: { params: ShlTicketParams }, config: { cors: false } },
    async (request, reply) => {
      const link = await ctx.store.shl.takeTicket(sha256Hex(request.params.ticket), ctx.now());
      // A one-time link is revoked by the opening that gave out this ticket: the ticket is that opening's.
      const usedOnce = link?.oneTime === true && link.revokedAt === link.lastAccessAt;
      if (link === null || (link.revokedAt !== undefined && !usedOnce)) return gone(reply);
      return reply.code(200).header('content-type', 'application/jose').send(link.jwe);
    },
  );

  app.get('/shl/view', async (_request, reply) =>
    reply
      .code(200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', SHL_VIEWER_CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin')
      .send(SHL_VIEWER_HTML),
  );
  app.get('/shl/view.js', async (_request, reply) =>
    reply.code(200).header('content-type', 'text/javascript; charset=utf-8').send(SHL_VIEWER_SCRIPT),
  );
};
