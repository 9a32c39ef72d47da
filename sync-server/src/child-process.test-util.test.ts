// The child-process helper waits for its own child: a /healthz answer on the port from another process
// (a free port another test's server took first) is not taken for the child's.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { childProcesses, serverCommand } from './child-process.test-util';

const children = childProcesses();

describe('children.serve', () => {
  it("does not take another server's /healthz on the port for the child's", async () => {
    const other = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"status":"ok"}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const address = other.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const dataDir = await children.tempDir('serve-port-taken');
      await expect(children.serve(serverCommand(), { dataDir, port })).rejects.toThrow(
        /exited early: .*port is in use/s,
      );
    } finally {
      other.close();
    }
  });
});
