// Model-based convergence (model.ts, worlds.ts) on the CouchDB store, a few scenarios for the normal suite
// (the long run plays 1,000: `npm run test:convergence:long`).
import { afterEach, describe, it } from 'vitest';
import { couchWorld, playAll, startPouchServer } from './worlds';

describe('every device ends where the server is, on the CouchDB store (model-based)', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of stops.splice(0).reverse()) await f();
  });

  it('6 scenarios', async () => {
    const couch = await startPouchServer();
    stops.push(() => couch.stop());
    await playAll('CouchDB', 6, couchWorld(couch.url), stops);
  }, 600_000);
});
