// `npm start` as a supervisor runs it (Docker `CMD ["npm", "start"]`, systemd with KillMode=process): the
// stop signal goes to the one process that was started, never to its process group. The server must get
// it, drain, close the store and give the data directory up, so the next start on it succeeds.
import { describe, expect, it } from 'vitest';
import { answers, childProcesses, takeable } from './child-process.test-util';

const children = childProcesses();

describe('stopping `npm start` with one signal to the started process', () => {
  for (const [name, command] of [
    ['npm start (repository root)', ['npm', 'start']],
    ['npm start --workspace=@hale/sync-server', ['npm', 'start', '--workspace=@hale/sync-server']],
  ] as const) {
    it(`${name}: SIGTERM drains the server, frees the port and the data directory`, async () => {
      const dataDir = await children.tempDir('start-signals');
      const r = await children.serve(command, { dataDir });

      r.child.kill('SIGTERM');
      expect(await r.exited).toEqual({ code: 0, signal: null });
      expect(r.output.stdout).toContain('shutting down');
      expect(r.output.stdout).toContain('store closed cleanly');
      expect(await answers(r.url)).toBe(false);

      // The directory and the port are free: what a new server takes, taken at once (a lingering one
      // would hold both).
      await takeable(dataDir, r.port);
    });
  }
});
