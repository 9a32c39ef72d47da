// Starting a node on the CouchDB store: the flags and their environment variables, the refusals of a
// setting that cannot work (no URL, not a URL, a bad database name, migrate with anything but sqlite →
// couchdb), and a start against a CouchDB that does not answer: one line naming the URL without its
// password, status 1, and no data directory made.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childProcesses, freePort, serverCommand } from './child-process.test-util';
import { ConfigError, parseCommandLine } from './config';

const parseError = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('the CouchDB store settings', () => {
  it('reads --store, --couch-url and --couch-db, or their environment variables', () => {
    expect(
      parseCommandLine(['--store', 'couchdb', '--couch-url', 'http://u:p@couch:5984/'], {}).config.store,
    ).toEqual({
      kind: 'couchdb',
      url: 'http://u:p@couch:5984',
      database: 'hale',
    });
    expect(
      parseCommandLine([], {
        HALE_STORE: 'couchdb',
        HALE_COUCH_URL: 'https://couch.internal',
        HALE_COUCH_DB: 'clinic',
      }).config.store,
    ).toEqual({ kind: 'couchdb', url: 'https://couch.internal', database: 'clinic' });
    // SQLite by default, whatever CouchDB URL the environment holds.
    expect(parseCommandLine([], { HALE_COUCH_URL: 'not a url' }).config.store).toEqual({ kind: 'sqlite' });
  });

  it('refuses a setting that cannot work, naming it and never the password', () => {
    expect(parseError(['--store', 'couchdb'])).toMatch(/needs --couch-url/);
    expect(parseError(['--store', 'mongo'])).toMatch(/--store: must be sqlite or couchdb/);
    const bad = parseError(['--store', 'couchdb', '--couch-url', 'ftp://u:secret@couch']);
    expect(bad).toMatch(/not a CouchDB URL/);
    expect(bad).not.toMatch(/secret/);
    expect(parseError(['--store', 'couchdb', '--couch-url', 'http://c', '--couch-db', 'Hale'])).toMatch(
      /database name/,
    );
    expect(parseError(['migrate', '--from', 'couchdb', '--to', 'sqlite', '--couch-url', 'http://c'])).toMatch(
      /only --from sqlite --to couchdb/,
    );
    expect(parseError(['backup', '--out', 'x', '--couch-url', 'http://c'])).toMatch(/only for/);
    expect(
      parseCommandLine(['migrate', '--from', 'sqlite', '--to', 'couchdb', '--couch-url', 'http://c'], {}),
    ).toMatchObject({
      command: 'migrate',
      to: { kind: 'couchdb', url: 'http://c', database: 'hale' },
    });
  });
});

describe('a node whose CouchDB does not answer', () => {
  const children = childProcesses();

  it('stops with one line naming CouchDB without the password, status 1, and makes no data directory', async () => {
    const dataDir = path.join(await children.tempDir('couch-start'), 'never');
    const port = await freePort();
    const dead = await freePort();
    const run = children.start(
      serverCommand('--store', 'couchdb', '--port', String(port), '--data-dir', dataDir),
      { HALE_COUCH_URL: `http://hale:secret@127.0.0.1:${dead}` },
    );
    expect((await run.exited).code).toBe(1);
    await run.drained;
    expect(run.output.stderr).toMatch(
      new RegExp(`^cannot reach CouchDB at http://127\\.0\\.0\\.1:${dead}: `),
    );
    expect(run.output.stderr).not.toMatch(/secret/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a CouchDB that requires a password', () => {
  it('is reached with the credentials of the URL (sent as a header), and refused with wrong ones (the databases cannot be created)', async () => {
    const { startPouchServer } = await import('./testing/pouchdb-server');
    const { openCouchStore } = await import('./store/couch/store');
    const { isoAt, makeDocInput } = await import('./store/conformance');
    const server = await startPouchServer({ inMemory: true });
    try {
      const made = await fetch(`${server.url}/_config/admins/hale`, {
        method: 'PUT',
        body: JSON.stringify('s3cret'),
      });
      expect(made.ok).toBe(true);
      const store = await openCouchStore({
        url: server.url.replace('//', '//hale:s3cret@'),
        database: 'auth',
      });
      await store.init();
      expect(
        await store.docs.writeDocs(
          [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
          isoAt(1),
        ),
      ).toEqual([{ status: 'ok', seq: 1 }]);
      expect((await store.health()).ok).toBe(true);
      await store.close();
      const wrong = await openCouchStore({ url: server.url.replace('//', '//hale:nope@'), database: 'auth' });
      await expect(wrong.init()).rejects.toThrow();
      await wrong.close();
    } finally {
      await server.stop();
    }
  });
});
