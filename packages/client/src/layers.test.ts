/**
 * The layers of packages/client/src hold, and the linter refuses an import that breaks them.
 * - The whole tree: no upward import, no folder cycle, no file circle (scripts/check-client-layers.ts).
 * - eslint.config.js, as `npm run lint` runs it: an import of a higher or same-layer folder is an error.
 */
import { restrictedImports } from '../../../scripts/lint-probe';
import { describe, expect, it } from 'vitest';
import { checkClientLayers } from '../../../scripts/check-client-layers';

const lint = restrictedImports;

describe('client layers', () => {
  it('the tree has no upward import, no folder cycle and no file circle', () => {
    const r = checkClientLayers();
    expect(r.unplaced).toEqual([]);
    expect(r.upward).toEqual([]);
    expect(r.folderCycles).toEqual([]);
    expect(r.fileCycles).toEqual([]);
    expect(r.folders.length).toBeGreaterThanOrEqual(16);
  });

  it('the linter refuses an import of a folder above, or of another folder of the same layer', async () => {
    const file = 'packages/client/src/store/layers-probe.ts';
    const up = await lint(file, "import { openHale } from '../hale/open';\nexport const x = openHale;\n");
    expect(up.join('\n')).toMatch(/store may import only folders of lower layers/);
    const nested = 'packages/client/src/sync/replication/layers-probe.ts';
    const fromNested = await lint(nested, "export { createConsent } from '../../consent/consent';\n");
    expect(fromNested.join('\n')).toMatch(/sync may import only folders of lower layers/);
    const sameLayer = await lint(
      'packages/client/src/api/layers-probe.ts',
      "export * from '../offload/jobs';\n",
    );
    expect(sameLayer.join('\n')).toMatch(/api may import only folders of lower layers/);
  }, 60_000);

  it('the linter lets a folder import a lower one', async () => {
    const file = 'packages/client/src/sync/layers-probe.ts';
    expect(await lint(file, "export { HaleError } from '../core/hale-error';\n")).toEqual([]);
  }, 60_000);
});
