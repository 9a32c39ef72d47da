/**
 * The installable web app's build step (a Vite plugin, build only): the web app manifest and its icons,
 * the release service worker as `/sw.js` with the release public keys it trusts fixed inside, the tags in
 * `index.html`, and — for a development build, or when the release key is at hand — `release.json`, the
 * build's files signed.
 *
 * | setting | from | effect |
 * |---|---|---|
 * | trusted release keys | `releasePublicKeys`, else `HALE_RELEASE_PUBLIC_KEYS` (comma-separated hex) | baked into `/sw.js`; none → a DEVELOPMENT build trusting the public dev key |
 * | signing | `HALE_RELEASE_KEY` / `HALE_RELEASE_KEY_FILE` at build, else the dev key for a dev build | `release.json`; a production build without the key leaves signing to `npm run release:sign` |
 * | sequence | `HALE_RELEASE_SEQUENCE`, else from `version` (major·10⁶ + minor·10³ + patch) | downgrade protection |
 *
 * Use (packages/app/vite.config.ts): `plugins: [react(), halePwa({ version: pkg.version })]`, and in the app's
 * entry `registerReleaseWorker({ navigator, fetch: (u, i) => fetch(u, i), subtle: crypto.subtle, onRelease })`
 * from `./src/sw/register`. Failure modes: a key that is not 64 hex digits, or a signing key whose public
 * key the build does not trust, stops the build (a release the installed app would refuse).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build as esbuild } from 'esbuild';
import type { Plugin, ResolvedConfig } from 'vite';
import { DEV_RELEASE_PUBLIC_KEY } from '@hale/release';
import { releaseKey, writeRelease } from '@hale/release/node';

export interface HalePwaOptions {
  /** The app's version (its package.json's): shown to people, and the release sequence by default. */
  readonly version: string;
  readonly name?: string;
  readonly shortName?: string;
  readonly themeColor?: string;
  readonly backgroundColor?: string;
  readonly releasePublicKeys?: readonly string[];
}

const HERE = import.meta.dirname;
const ICONS = [
  { src: 'icon-192.png', sizes: '192x192', purpose: 'any' },
  { src: 'icon-512.png', sizes: '512x512', purpose: 'any' },
  { src: 'icon-maskable-512.png', sizes: '512x512', purpose: 'maskable' },
] as const;
const EXTRA_ICONS = ['apple-touch-icon.png', 'favicon-32.png'] as const;
const HEX32 = /^[0-9a-f]{64}$/;

const trustedKeysOf = (options: HalePwaOptions): string[] => {
  const keys =
    options.releasePublicKeys ??
    (process.env.HALE_RELEASE_PUBLIC_KEYS ?? '')
      .split(',')
      .map((k) => k.trim().toLowerCase())
      .filter((k) => k !== '');
  const bad = keys.find((k) => !HEX32.test(k));
  if (bad !== undefined) throw new Error(`hale-pwa: release public key is not 64 hex digits: ${bad}`);
  return [...keys];
};

export function halePwa(options: HalePwaOptions): Plugin {
  const keys = trustedKeysOf(options);
  const devBuild = keys.length === 0;
  const trusted = devBuild ? [DEV_RELEASE_PUBLIC_KEY] : keys;
  const themeColor = options.themeColor ?? '#0b7285';
  let config: ResolvedConfig | null = null;

  const webManifest = {
    name: options.name ?? 'Hale',
    short_name: options.shortName ?? 'Hale',
    description: 'Your health record, kept on your own devices',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    orientation: 'any',
    background_color: options.backgroundColor ?? '#ffffff',
    theme_color: themeColor,
    icons: ICONS.map((i) => ({
      src: `/icons/${i.src}`,
      sizes: i.sizes,
      type: 'image/png',
      purpose: i.purpose,
    })),
  };

  return {
    name: 'hale-pwa',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    transformIndexHtml: () => [
      { tag: 'link', attrs: { rel: 'manifest', href: '/manifest.webmanifest' }, injectTo: 'head' },
      { tag: 'meta', attrs: { name: 'theme-color', content: themeColor }, injectTo: 'head' },
      {
        tag: 'link',
        attrs: { rel: 'icon', type: 'image/png', href: '/icons/favicon-32.png' },
        injectTo: 'head',
      },
      {
        tag: 'link',
        attrs: { rel: 'apple-touch-icon', href: '/icons/apple-touch-icon.png' },
        injectTo: 'head',
      },
    ],
    async generateBundle() {
      this.emitFile({
        type: 'asset',
        fileName: 'manifest.webmanifest',
        source: `${JSON.stringify(webManifest, null, 2)}\n`,
      });
      for (const file of [...ICONS.map((i) => i.src), ...EXTRA_ICONS]) {
        this.emitFile({
          type: 'asset',
          fileName: `icons/${file}`,
          source: await readFile(path.join(HERE, 'src/sw/icons', file)),
        });
      }
      const worker = await esbuild({
        entryPoints: [path.join(HERE, 'src/sw/release-sw.ts')],
        bundle: true,
        format: 'iife',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        write: false,
        legalComments: 'none',
        define: {
          __HALE_RELEASE_KEYS__: JSON.stringify(trusted),
          __HALE_DEV_BUILD__: String(devBuild),
        },
      });
      const text = worker.outputFiles[0]?.text;
      if (text === undefined) throw new Error('hale-pwa: the service worker bundle is empty');
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: text });
    },
    async closeBundle() {
      if (config === null) return;
      const outDir = path.resolve(config.root, config.build.outDir);
      const hasKey =
        process.env.HALE_RELEASE_KEY !== undefined || process.env.HALE_RELEASE_KEY_FILE !== undefined;
      if (!devBuild && !hasKey) {
        config.logger.info(
          `hale-pwa: release.json not written; sign this build: npm run release:sign -- --dir ${outDir} --version ${options.version}`,
        );
        return;
      }
      const key = releaseKey(devBuild && !hasKey ? {} : process.env);
      if (!trusted.includes(key.publicKeyHex)) {
        throw new Error(
          `hale-pwa: the signing key (public ${key.publicKeyHex}) is not one this build trusts: installed apps would refuse the release`,
        );
      }
      const sequenceText = process.env.HALE_RELEASE_SEQUENCE;
      const signed = await writeRelease(outDir, {
        version: options.version,
        key,
        ...(sequenceText === undefined ? {} : { sequence: Number(sequenceText) }),
      });
      if (key.dev) {
        config.logger.warn(
          'hale-pwa: DEVELOPMENT build: release.json is signed with the public development key; do not serve it to people',
        );
      }
      config.logger.info(`hale-pwa: release.json signed (${signed.manifest.files.length} files)`);
    },
  };
}
