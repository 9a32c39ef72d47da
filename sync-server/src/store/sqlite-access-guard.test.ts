// The SQLite store against the access guard conformance suite (access-guard-conformance.ts).
import { join } from 'node:path';
import { runAccessGuardConformance } from './access-guard-conformance';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-guard-');
const quiet = { onListenerError: () => {} };

runAccessGuardConformance(
  'sqlite',
  async () => {
    const store = await openSqliteStore({ dataDir: join(newDir(), 'data'), ...quiet });
    return { store, cleanup: () => store.close() };
  },
  {
    makeSharedPair: async () => {
      const dataDir = newDir();
      const a = await openSqliteStore({ dataDir, ...quiet });
      // Two instances on one file: a second connection, as a tool beside the server would open it.
      const b = await openSqliteStore({ dataDir, exclusive: false, ...quiet });
      return {
        stores: [a, b],
        cleanup: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
);
