// batchedReader: reads asked for in one turn share one getMany request; later ones make their own.
import { expect, it } from 'vitest';
import { batchedReader } from './context';
import type { CouchDoc, Db } from './db';

const fakeDb = (fail = false) => {
  const requests: string[][] = [];
  const db = {
    getMany: (ids: readonly string[]) => {
      requests.push([...ids]);
      if (fail) return Promise.reject(new Error('unreachable'));
      return Promise.resolve(new Map<string, CouchDoc>(ids.map((id) => [id, { _id: id }])));
    },
  } as unknown as Db;
  return { db, requests };
};

it('reads started in one turn go in one request, and each caller finds its ids', async () => {
  const { db, requests } = fakeDb();
  const read = batchedReader(db);
  const [a, b] = await Promise.all([read(['d|1', 'd|2']), read(['D|x'])]);
  expect(requests).toEqual([['d|1', 'd|2', 'D|x']]);
  expect(a.get('d|2')?._id).toBe('d|2');
  expect(b.get('D|x')?._id).toBe('D|x');
  await read(['d|3']);
  expect(requests).toHaveLength(2);
});

it('a failed request rejects every read it carried', async () => {
  const { db } = fakeDb(true);
  const read = batchedReader(db);
  const results = await Promise.allSettled([read(['a']), read(['b'])]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
});
