// `listKeyHolders` came with protocol version 3 (docs/protocol.md, MESSAGE_TABLE): below it the request is
// refused BAD_MESSAGE, as acceptPatient/listAccepted are below theirs, and the connection stays usable.
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_HOLDERS_VERSION } from '@hale/protocol';
import {
  connect,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';

describe('listKeyHolders and the protocol version', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t?.stop();
    t = undefined;
  });

  it(`is refused BAD_MESSAGE below version ${KEY_HOLDERS_VERSION} and served from it`, async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const streams = [streamOf(a.accountId, 'note')];
    const answers: Record<number, unknown> = {};
    for (const version of [1, KEY_HOLDERS_VERSION - 1, KEY_HOLDERS_VERSION]) {
      const c = await connect(t, a.device, { versions: [version] });
      clients.push(c);
      expect(c.ready.version).toBe(version);
      const rid = c.rid();
      const answer = await c.request({ t: 'listKeyHolders', rid, streams });
      answers[version] = answer.t === 'error' ? { code: answer.code, rid: answer.rid } : { t: answer.t };
      expect((await c.request({ t: 'ping', rid: c.rid() })).t).toBe('pong');
    }
    expect(answers).toEqual({
      1: { code: 'BAD_MESSAGE', rid: 1 },
      [KEY_HOLDERS_VERSION - 1]: { code: 'BAD_MESSAGE', rid: 1 },
      [KEY_HOLDERS_VERSION]: { t: 'keyHolders' },
    });
  });
});
