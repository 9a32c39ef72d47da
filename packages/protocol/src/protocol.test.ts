import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from './index';
import { CLIENT_FRAMES, SERVER_FRAMES } from './messages';
import { MESSAGE_TABLE, UNSOLICITED_FRAMES } from './protocol';

describe('MESSAGE_TABLE', () => {
  it('covers every client frame and replies only with server frames', () => {
    expect(Object.keys(MESSAGE_TABLE).sort()).toEqual(Object.keys(CLIENT_FRAMES).sort());
    const serverTypes = new Set(Object.keys(SERVER_FRAMES));
    const replied = new Set<string>(UNSOLICITED_FRAMES);
    for (const row of Object.values(MESSAGE_TABLE)) {
      for (const reply of row.reply) {
        expect(serverTypes.has(reply)).toBe(true);
        replied.add(reply);
      }
      for (const code of row.errors) expect(api.isErrorCode(code)).toBe(true);
    }
    // Every server frame is either a reply or unsolicited.
    expect([...replied].sort()).toEqual([...serverTypes].sort());
  });

  it('allows only hello and auth before ready', () => {
    const early = Object.entries(MESSAGE_TABLE)
      .filter(([, row]) => row.beforeReady)
      .map(([t]) => t);
    expect(early.sort()).toEqual(['auth', 'hello']);
  });
});

describe('package surface', () => {
  it('exports the codec, schemas, helpers and tables from index', () => {
    for (const name of [
      'decodeClientFrame',
      'decodeServerFrame',
      'encodeFrame',
      'negotiateVersion',
      'validate',
      'ERROR_CODES',
      'protocolError',
      'WireDoc',
      'PushDoc',
      'ServedDoc',
      'SignedGrant',
      'HTTP_ROUTES',
      'streamId',
      'parseStreamId',
      'docSignaturePayload',
      'MAX_FRAME_BYTES',
      'PROTOCOL_VERSION',
    ]) {
      expect(api, name).toHaveProperty(name);
    }
  });
});

describe('docs/protocol.md', () => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

  it('documents every frame and every error code', () => {
    for (const t of [...Object.keys(CLIENT_FRAMES), ...Object.keys(SERVER_FRAMES)])
      expect(doc, t).toContain(`\`${t}\``);
    for (const code of api.ERROR_CODE_LIST) expect(doc, code).toContain(`\`${code}\``);
  });

  it('states the current protocol version in its title and its versioning section', () => {
    const newest = api.PROTOCOL_VERSION;
    expect(doc.split('\n')[0]).toBe(`# Hale wire protocol (version ${newest})`);
    expect(doc).toContain(
      `\`PROTOCOL_VERSION\` is ${newest} (\`SUPPORTED_VERSIONS\` = [${api.SUPPORTED_VERSIONS.join(', ')}])`,
    );
  });
});

describe('README.md', () => {
  it('shows the health answer with the version the server sends (PROTOCOL_VERSION)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const samples = [...readme.matchAll(/"version":"(\d+)"/g)].map((m) => m[1]);
    expect(samples.length).toBeGreaterThan(0);
    for (const v of samples) expect(v).toBe(String(api.PROTOCOL_VERSION));
  });
});
