/**
 * The cluster journeys' fixture: one pouchdb-server per file; per test, nodes over a fresh database and
 * the live connections opened to them, all stopped after the test.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type TestDevice, type WsClient } from '@hale/sync-server/testing';
import {
  startCouchNode,
  startPouchServer,
  type CouchNode,
  type PouchServer,
} from '@hale/sync-server/testing/couch';

type Nodes<N extends 2 | 3> = N extends 2 ? [CouchNode, CouchNode] : [CouchNode, CouchNode, CouchNode];

export const useCouchCluster = () => {
  let couch: PouchServer | undefined;
  const nodes: CouchNode[] = [];
  const clients: WsClient[] = [];
  beforeAll(async () => {
    couch = await startPouchServer();
  }, 30_000);
  afterAll(async () => {
    await couch?.stop();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });
  const pouch = (): PouchServer => {
    if (couch === undefined) throw new Error('the pouchdb-server is not started yet');
    return couch;
  };
  return {
    pouch,
    /** `n` nodes over one new database named `prefix-…`, stopped after the test. */
    async startNodes<N extends 2 | 3>(n: N, prefix = 'cluster'): Promise<Nodes<N>> {
      const database = `${prefix}-${randomUUID()}`;
      const started = await Promise.all(
        Array.from({ length: n }, () => startCouchNode(pouch().url, database)),
      );
      nodes.push(...started);
      return started as Nodes<N>;
    },
    /** A live connection of `device` to `node`, closed after the test. */
    open: async (node: CouchNode, device: TestDevice): Promise<WsClient> => {
      const client = await connect(node, device);
      clients.push(client);
      return client;
    },
  };
};
