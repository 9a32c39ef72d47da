/**
 * The app's settings on this device: no health content, only preferences (localStorage).
 *
 * | setting | default | checked |
 * |---|---|---|
 * | `server` | the page's own origin | an http(s) URL, else the default |
 * | `language` | the browser's (en, zh-Hant, zh-Hans) | one of LANGUAGES |
 * | `colorScheme` | `auto` | light, dark or auto |
 * | `lockMinutes` | 5 | one of LOCK_MINUTES |
 *
 * Failure modes: unreadable or tampered storage falls back to the defaults; a write that fails (storage
 * full or off) keeps the setting for this page only.
 */
export const LANGUAGES = ['en', 'zh-Hant', 'zh-Hans'] as const;
export type Language = (typeof LANGUAGES)[number];
export const COLOR_SCHEMES = ['auto', 'light', 'dark'] as const;
export type ColorSchemeSetting = (typeof COLOR_SCHEMES)[number];
export const LOCK_MINUTES = [1, 2, 5, 10, 15, 30, 60] as const;

export interface AppSettings {
  readonly server: string;
  readonly language: Language;
  readonly colorScheme: ColorSchemeSetting;
  readonly lockMinutes: number;
}

const KEY = 'hale.settings.v1';

export const browserLanguage = (languages: readonly string[]): Language => {
  for (const tag of languages) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) {
      return /hans|cn|sg/.test(lower) ? 'zh-Hans' : 'zh-Hant';
    }
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
};

export const isServerUrl = (value: string): boolean => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search;
};

export const defaultSettings = (origin: string, languages: readonly string[]): AppSettings => ({
  server: origin,
  language: browserLanguage(languages),
  colorScheme: 'auto',
  lockMinutes: 5,
});

const pick = <T extends string | number>(value: unknown, allowed: readonly T[], fallback: T): T =>
  allowed.find((a) => a === value) ?? fallback;

/** Settings read from `storage`, each value checked; anything else is the default. */
export const readSettings = (storage: Pick<Storage, 'getItem'>, defaults: AppSettings): AppSettings => {
  let raw: unknown = null;
  try {
    raw = JSON.parse(storage.getItem(KEY) ?? 'null');
  } catch {
    raw = null;
  }
  if (typeof raw !== 'object' || raw === null) return defaults;
  const stored = new Map<string, unknown>(Object.entries(raw));
  const server = stored.get('server');
  return {
    server: typeof server === 'string' && isServerUrl(server) ? new URL(server).origin : defaults.server,
    language: pick(stored.get('language'), LANGUAGES, defaults.language),
    colorScheme: pick(stored.get('colorScheme'), COLOR_SCHEMES, defaults.colorScheme),
    lockMinutes: pick(stored.get('lockMinutes'), LOCK_MINUTES, defaults.lockMinutes),
  };
};

export const writeSettings = (storage: Pick<Storage, 'setItem'>, settings: AppSettings): boolean => {
  try {
    storage.setItem(KEY, JSON.stringify(settings));
    return true;
  } catch {
    return false;
  }
};
