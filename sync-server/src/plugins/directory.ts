import type { FastifyPluginAsync } from 'fastify';
import {
  MAX_AVAILABILITY_BYTES,
  SignedAvailability,
  availabilitySignaturePayload,
  type HttpAvailabilityParams,
  type HttpAvailabilityPutRequest,
  type HttpAvailabilityPutResponse,
  type HttpAvailabilityResponse,
  DEFAULT_DIRECTORY_PAGE,
  DirectoryCursorPayload,
  HTTP_ROUTES,
  SignedProviderProfile,
  directoryProfilePayload,
  validate,
  type DirectoryEntry,
  type HttpDirectoryPutRequest,
  type HttpDirectoryQuery,
  type HttpDirectoryResponse,
} from '@hale/protocol';
import { base64urlDecode } from '@hale/crypto';
import type { AppContext } from '../context';
import { decodeCursor, encodeCursor } from '../core/page-cursor';
import { ServiceError, verifyPayload } from '../core/sync-service';

/**
 * Provider directory: providers publish a profile signed by their identity key; any signed-in user searches.
 * Searches are paged by key (paging.ts): by display name (case-folded), then account id, strictly after the
 * cursor's position, so a walk lists every provider present throughout it once. A provider who renames
 * during a walk moves in that order and may be listed twice or not at all; devices key by account id.
 * An entry whose account is gone or whose stored profile no longer checks is left out (and passed).
 * Availability (@hale/protocol availability.ts): a provider publishes its own, signed by its identity key,
 * each version above the last (AVAILABILITY_STALE otherwise; compared and stored in one store step); any
 * signed-in account reads it with the identity key to check it against. The schema and its refinements are
 * applied by the route's validation (app.ts); bodies are capped at MAX_AVAILABILITY_BYTES.
 */
export const directoryPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.put<{ Body: HttpDirectoryPutRequest }>(
    HTTP_ROUTES.putDirectory.url,
    { schema: HTTP_ROUTES.putDirectory.schema },
    async (request) => {
      const principal = await ctx.authenticate(request);
      const { profile, sig } = request.body;
      if (principal.role !== 'provider')
        throw new ServiceError('FORBIDDEN', 'only provider accounts are listed');
      if (profile.accountId !== principal.accountId) {
        throw new ServiceError('FORBIDDEN', 'a provider can only publish its own profile');
      }
      const account = await ctx.store.accounts.get(principal.accountId);
      const identity = account ? base64urlDecode(account.identityPublicKey) : null;
      if (
        !identity?.ok ||
        !(await verifyPayload(ctx.ed, identity.value, directoryProfilePayload(profile), sig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'profile is not signed by the identity key');
      }
      const entry: Parameters<typeof ctx.store.directory.putProvider>[0] = {
        accountId: profile.accountId,
        displayName: profile.displayName,
        specialty: profile.specialty,
        clinic: profile.clinic,
        identifier: profile.identifier,
        signed: request.body,
        updatedAt: new Date(ctx.now()).toISOString(),
      };
      if (profile.contact !== undefined) entry.contact = profile.contact;
      await ctx.store.directory.putProvider(entry);
      return { accountId: profile.accountId };
    },
  );

  app.put<{ Body: HttpAvailabilityPutRequest }>(
    HTTP_ROUTES.putAvailability.url,
    { schema: HTTP_ROUTES.putAvailability.schema, bodyLimit: MAX_AVAILABILITY_BYTES },
    async (request): Promise<HttpAvailabilityPutResponse> => {
      const principal = await ctx.authenticate(request);
      const { availability, sig } = request.body;
      if (principal.role !== 'provider')
        throw new ServiceError('FORBIDDEN', 'only provider accounts publish availability');
      if (availability.accountId !== principal.accountId) {
        throw new ServiceError('FORBIDDEN', 'a provider can only publish its own availability');
      }
      const account = await ctx.store.accounts.get(principal.accountId);
      const identity = account ? base64urlDecode(account.identityPublicKey) : null;
      if (
        !identity?.ok ||
        !(await verifyPayload(ctx.ed, identity.value, availabilitySignaturePayload(availability), sig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'availability is not signed by the identity key');
      }
      const put = await ctx.store.availability.put({
        accountId: availability.accountId,
        version: availability.version,
        signed: { availability, sig },
        updatedAt: new Date(ctx.now()).toISOString(),
      });
      if (put.outcome === 'stale') {
        throw new ServiceError(
          'AVAILABILITY_STALE',
          `an availability at version ${put.version} is kept: publish a higher version`,
          { version: put.version },
        );
      }
      return { accountId: availability.accountId, version: availability.version };
    },
  );

  app.get<{ Params: HttpAvailabilityParams }>(
    HTTP_ROUTES.getAvailability.url,
    { schema: HTTP_ROUTES.getAvailability.schema },
    async (request): Promise<HttpAvailabilityResponse> => {
      await ctx.authenticate(request);
      const { accountId } = request.params;
      const [entry, account] = await Promise.all([
        ctx.store.availability.get(accountId),
        ctx.store.accounts.get(accountId),
      ]);
      const signed = entry === null ? null : validate(SignedAvailability, entry.signed);
      if (!account || signed === null || !signed.ok) {
        throw new ServiceError('NOT_FOUND', 'this provider has published no availability');
      }
      return { ...signed.value, identityPublicKey: account.identityPublicKey };
    },
  );

  app.get<{ Querystring: HttpDirectoryQuery }>(
    HTTP_ROUTES.searchDirectory.url,
    { schema: HTTP_ROUTES.searchDirectory.schema },
    async (request): Promise<HttpDirectoryResponse> => {
      await ctx.authenticate(request);
      const { q = '', limit = DEFAULT_DIRECTORY_PAGE, cursor } = request.query;
      let after: { displayName: string; accountId: string } | undefined;
      if (cursor !== undefined) {
        const from = decodeCursor(DirectoryCursorPayload, cursor, 'directory');
        if (from.q !== q) {
          throw new ServiceError('BAD_CURSOR', 'this cursor continues a search for other text: repeat `q`');
        }
        after = { displayName: from.name, accountId: from.accountId };
      }
      const providers: DirectoryEntry[] = [];
      const page = (): HttpDirectoryResponse => {
        if (after === undefined) return { providers };
        const next = encodeCursor({
          v: 1,
          k: 'directory',
          q,
          name: after.displayName,
          accountId: after.accountId,
        });
        return { providers, next };
      };
      // One entry more than the page is read, to know whether `next` is due; again while entries left out
      // (account gone, damaged entry) leave the page short and more may match.
      for (;;) {
        const want = limit - providers.length + 1;
        const entries = await ctx.store.directory.searchProviders(q, want, after);
        for (const e of entries) {
          if (providers.length >= limit) return page();
          const account = await ctx.store.accounts.get(e.accountId);
          const signed = validate(SignedProviderProfile, e.signed);
          if (account && signed.ok) {
            providers.push({ ...signed.value, identityPublicKey: account.identityPublicKey });
          }
          after = { displayName: e.displayName, accountId: e.accountId };
        }
        if (entries.length < want) return { providers };
      }
    },
  );
};
