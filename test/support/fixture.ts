// One real server per test and the device sessions the test opened, closed afterwards.
import { afterEach, beforeEach } from 'vitest';
import { startServer, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client';

export interface ServerFixture {
  /** The current test's server (set in beforeEach). */
  readonly t: TestServer;
  /** Sessions pushed here are closed after the test, before the server stops. */
  readonly sessions: DeviceSession[];
}

export const useServer = (options: Parameters<typeof startServer>[0] = {}): ServerFixture => {
  let current: TestServer | null = null;
  const sessions: DeviceSession[] = [];
  beforeEach(async () => {
    current = await startServer(options);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await current?.stop();
    current = null;
  });
  return {
    get t(): TestServer {
      if (!current) throw new Error('useServer: no server outside a test');
      return current;
    },
    sessions,
  };
};
