/**
 * What a server says about itself (`GET /v1/server`), read once per HttpApi object: the account code asks
 * which protocol versions a server speaks before every unlock's background publication and every first
 * directory page, and the answer does not change while the app runs against that server.
 *
 * Invariants: one request per api object while it succeeds; a failed read is forgotten (the next caller
 * asks again), never kept as an answer. Keyed weakly, so a dropped api object takes its answer with it.
 * A server upgraded while an api object lives is seen by a new api object (the next app start).
 * Failure modes: whatever `serverInfo` throws (HaleClientError), to every caller sharing that read.
 */
import type { HttpServerInfo } from '@hale/protocol';
import type { HttpApi } from '../api/http-api';

type InfoApi = Pick<HttpApi, 'serverInfo'>;

const answers = new WeakMap<InfoApi, Promise<HttpServerInfo>>();

/** The server's `GET /v1/server` answer, asked once per `api` object (again after a failure). */
export function serverInfoOf(api: InfoApi): Promise<HttpServerInfo> {
  const known = answers.get(api);
  if (known !== undefined) return known;
  const asked = api.serverInfo();
  answers.set(api, asked);
  asked.catch(() => {
    if (answers.get(api) === asked) answers.delete(api);
  });
  return asked;
}

/** Whether the server behind `api` speaks protocol `version` (see `serverInfoOf`). */
export async function serverSpeaks(api: InfoApi, version: number): Promise<boolean> {
  return (await serverInfoOf(api)).versions.includes(version);
}
