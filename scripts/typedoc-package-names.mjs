// TypeDoc names a module after its file path (`client/src/advanced`); this plugin names each entry point
// after the import a reader writes (`@hale/client/advanced`), found in the `exports` of the nearest
// package.json above the file. An entry point no package exports keeps TypeDoc's name.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Converter, ReflectionKind } from 'typedoc';

/** The import specifier that resolves to `file`, e.g. …/packages/client/src/testing.ts → @hale/client/testing. */
function specifierOf(file) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    for (const [key, target] of Object.entries(pkg.exports ?? {})) {
      if (typeof target === 'string' && path.resolve(dir, target) === file)
        return key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`;
    }
    return undefined;
  }
  return undefined;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
    const name = file === undefined ? undefined : specifierOf(path.resolve(file));
    if (name !== undefined) reflection.name = name;
  });
}
