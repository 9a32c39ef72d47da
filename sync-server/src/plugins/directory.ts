import type { FastifyPluginAsync } from 'fastify';
import {
  HTTP_ROUTES,
  directoryProfilePayload,
  type HttpDirectoryPutRequest,
  type HttpDirectoryQuery,
} from '@hale/protocol';
import { base64urlDecode } from '@hale/crypto';
import type { AppContext } from '../context';
import { ServiceError, verifyPayload } from '../core/sync-service';

/** Provider directory: providers publish a profile signed by their identity key; any signed-in user searches. */
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

  app.get<{ Querystring: HttpDirectoryQuery }>(
    HTTP_ROUTES.searchDirectory.url,
    { schema: HTTP_ROUTES.searchDirectory.schema },
    async (request) => {
      await ctx.authenticate(request);
      const entries = await ctx.store.directory.searchProviders(
        request.query.q ?? '',
        request.query.limit ?? 20,
      );
      const providers = [];
      for (const e of entries) {
        const account = await ctx.store.accounts.get(e.accountId);
        if (!account) continue;
        const signed = e.signed as unknown as HttpDirectoryPutRequest;
        providers.push({
          profile: signed.profile,
          sig: signed.sig,
          identityPublicKey: account.identityPublicKey,
        });
      }
      return { providers };
    },
  );
};
