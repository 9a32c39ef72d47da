// The two surfaces and their documents: `@hale/client` (index.ts) is what an app calls, every value of it
// named in the guide (docs/client-api.md); `@hale/client/advanced` is the parts a session is built from,
// documented by the API reference `npm run docs` generates from the TSDoc (typedoc.json): every value it
// exports has TSDoc where it is declared. None of those parts is reachable from the public surface:
// public-surface.type-test.ts checks that at type level, this file at run time.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from './index';
import * as advanced from './advanced';
import { AUDIT_ERROR_CODES } from './audit/errors';
import { AT_REST_ERROR_CODES } from './store/at-rest-encryption';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const read = (name: string): string => readFileSync(path.join(repo, 'docs', name), 'utf8');
const guide = read('client-api.md');
// As a word of its own anywhere (prose, code spans, code blocks): `createRecords` inside `createRecordsX` does not count.
const namedIn =
  (doc: string) =>
  (name: string): boolean =>
    new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(doc);

/** The file an import specifier names: relative, or a `@hale/…` package through its exports map. */
const resolveFrom = (from: string, specifier: string): string | undefined => {
  if (specifier.startsWith('.')) {
    const base = path.resolve(path.dirname(from), specifier);
    return [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')].find(
      (file) => existsSync(file) && statSync(file).isFile(),
    );
  }
  const match = /^@hale\/([^/]+)(?:\/(.+))?$/.exec(specifier);
  if (match?.[1] === undefined) return undefined;
  for (const dir of [path.join(repo, 'packages', match[1]), path.join(repo, match[1])]) {
    const manifest = path.join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> })
      .exports;
    const target = exports?.[match[2] === undefined ? '.' : `./${match[2]}`];
    return typeof target === 'string' ? path.join(dir, target) : undefined;
  }
  return undefined;
};

const parsed = new Map<string, ts.SourceFile>();
const parse = (file: string): ts.SourceFile => {
  let source = parsed.get(file);
  if (source === undefined) {
    source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    parsed.set(file, source);
  }
  return source;
};

/** A `/** … *\/` comment right before the node: what TypeDoc reads. */
const hasTsDoc = (source: ts.SourceFile, node: ts.Node): boolean =>
  (ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? []).some(
    (range) => source.text.startsWith('/**', range.pos) && !source.text.startsWith('/**/', range.pos),
  );

/** Whether the declaration that `name`, as `file` exports it, stands for carries TSDoc (re-exports followed). */
const documented = (file: string, name: string, seen = new Set<string>()): boolean => {
  const key = `${file}#${name}`;
  if (seen.has(key)) return false;
  seen.add(key);
  const source = parse(file);
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement) || statement.isTypeOnly) continue;
    const specifier = statement.moduleSpecifier;
    const from =
      specifier !== undefined && ts.isStringLiteral(specifier)
        ? resolveFrom(file, specifier.text)
        : undefined;
    const clause = statement.exportClause;
    if (clause === undefined) {
      if (from !== undefined && documented(from, name, seen)) return true;
    } else if (ts.isNamedExports(clause)) {
      const element = clause.elements.find((e) => !e.isTypeOnly && e.name.text === name);
      if (element === undefined) continue;
      const original = (element.propertyName ?? element.name).text;
      return from !== undefined ? documented(from, original, seen) : declaredWithTsDoc(file, original, seen);
    }
  }
  return declaredWithTsDoc(file, name, seen);
};

/** Whether `name` is declared in `file` with TSDoc, or imported there from a declaration that has it. */
const declaredWithTsDoc = (file: string, name: string, seen: Set<string>): boolean => {
  const source = parse(file);
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      if (statement.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name))
        if (hasTsDoc(source, statement)) return true;
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name?.text === name
    ) {
      if (hasTsDoc(source, statement)) return true;
    } else if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const bindings = statement.importClause?.namedBindings;
      const element =
        bindings !== undefined && ts.isNamedImports(bindings)
          ? bindings.elements.find((e) => e.name.text === name)
          : undefined;
      const from = resolveFrom(file, statement.moduleSpecifier.text);
      if (element !== undefined && from !== undefined)
        return documented(from, (element.propertyName ?? element.name).text, seen);
    }
  }
  return false;
};

describe('docs/client-api.md, the guide', () => {
  it('names every value @hale/client exports', () => {
    expect(Object.keys(api).filter((name) => !namedIn(guide)(name))).toEqual([]);
  });

  it('gives every account, audit and file error code an app switches on its words in HALE_ERRORS, which the guide names', () => {
    const codes = [...api.ACCOUNT_ERROR_CODES, ...api.AUDIT_ERROR_CODES, ...api.FILE_ERROR_CODES];
    expect(namedIn(guide)('HALE_ERRORS')).toBe(true);
    expect(codes.filter((code) => (api.HALE_ERRORS[code]?.words ?? '') === '')).toEqual([]);
  });
});

describe('@hale/client/advanced, the generated reference', () => {
  it('is built by `npm run docs` from each entry point of @hale/client', () => {
    const config = JSON.parse(readFileSync(path.join(repo, 'typedoc.json'), 'utf8')) as {
      entryPoints: string[];
    };
    for (const entry of ['index.ts', 'advanced.ts', 'testing.ts'])
      expect(config.entryPoints).toContain(`packages/client/src/${entry}`);
  });

  it('documents every value @hale/client/advanced exports with TSDoc where it is declared', () => {
    const entry = fileURLToPath(new URL('./advanced.ts', import.meta.url));
    // Guards the lookup itself: these have TSDoc where they are declared.
    expect(['createAccount', 'createWorkerOffload'].filter((name) => !documented(entry, name))).toEqual([]);
    const undocumented = Object.keys(advanced).filter((name) => !documented(entry, name));
    expect(undocumented).toEqual([]);
  });

  it('gives every at-rest and audit error code its words in HALE_ERRORS, which the guide names', () => {
    const codes = [...AT_REST_ERROR_CODES, ...AUDIT_ERROR_CODES];
    expect(namedIn(guide)('HALE_ERRORS')).toBe(true);
    expect(codes.filter((code) => (api.HALE_ERRORS[code]?.words ?? '') === '')).toEqual([]);
  });
});

describe('@hale/client, the public surface', () => {
  it('exports none of the parts a session is built from', () => {
    const internals = [
      'openDeviceSession',
      'createSyncEngine',
      'createConnection',
      'createKeyring',
      'createConsent',
      'createAuditLog',
      'createRecords',
      'createFiles',
      'openDeviceDb',
      'createWorkerOffload',
      'runCryptoJob',
      'wrapWithAtRestEncryption',
      'createHttpApi',
    ];
    expect(internals.filter((name) => name in api)).toEqual([]);
    // The session's inner parts are not in the plug-in surface either.
    const inner = ['createSyncEngine', 'createKeyring', 'createConsent', 'createAuditLog', 'createRecords'];
    expect(inner.filter((name) => name in advanced)).toEqual([]);
  });

  it('is small: an app reads it in one sitting', () => {
    expect(Object.keys(api).length).toBeLessThan(40);
  });
});
