// The Mantine theme: a calm clinical palette, system fonts (CJK included), larger touch targets.
import { createTheme, type CSSVariablesResolver, type MantineColorsTuple } from '@mantine/core';

const hale: MantineColorsTuple = [
  '#e7f3ff',
  '#d0e4fd',
  '#a0c6f6',
  '#6ca6f0',
  '#428bea',
  '#2779e7',
  '#1670e7',
  '#045fce',
  '#0054b9',
  '#004899',
];

export const theme = createTheme({
  primaryColor: 'hale',
  colors: { hale },
  primaryShade: { light: 7, dark: 5 },
  defaultRadius: 'md',
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK TC", "Noto Sans CJK SC", "PingFang TC", "Microsoft JhengHei", sans-serif',
  headings: { fontWeight: '650' },
  components: {
    Button: { defaultProps: { size: 'md' } },
    TextInput: { defaultProps: { size: 'md' } },
    PasswordInput: { defaultProps: { size: 'md' } },
    Textarea: { defaultProps: { size: 'md' } },
    Select: { defaultProps: { size: 'md' } },
    NativeSelect: { defaultProps: { size: 'md' } },
    ActionIcon: { defaultProps: { size: 'xl', variant: 'subtle' } },
    // Sentence case reads better than capitals in a clinical list, and wraps instead of cutting words.
    Badge: { defaultProps: { tt: 'none' }, styles: { root: { maxWidth: '100%' } } },
  },
});

/** Secondary text dark (light) enough for WCAG AA contrast on the page and on cards (4.5:1 and more). */
/** Coloured text (`c="red"`, light alerts and badges) in shades that keep 4.5:1 on white and on their tint. */
const DARK_TEXT: Readonly<Record<string, string>> = {
  red: '#b02525',
  orange: '#9c3a0c',
  yellow: '#6e4300',
  teal: '#06664a',
  green: '#1c662d',
};

export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': '#575e66',
    '--mantine-color-error': DARK_TEXT['red'] ?? '#b02525',
    // White text on a filled red badge or button: 4.5:1 and more.
    '--mantine-color-red-filled': '#c62828',
    '--mantine-color-red-filled-hover': '#a61f1f',
    ...Object.fromEntries(
      Object.entries(DARK_TEXT).flatMap(([name, color]) => [
        [`--mantine-color-${name}-text`, color],
        [`--mantine-color-${name}-light-color`, color],
        [`--mantine-color-${name}-outline`, color],
      ]),
    ),
  },
  dark: { '--mantine-color-dimmed': '#a9adb3' },
});
