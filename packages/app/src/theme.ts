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
  primaryShade: { light: 8, dark: 5 },
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

/**
 * Text at WCAG AAA contrast (axe's color-contrast-enhanced, 7:1) on white, on cards and on light tints:
 * secondary text, coloured text (`c="red"`, light alerts and badges), links, white on filled buttons.
 */
const DARK_TEXT: Readonly<Record<string, string>> = {
  red: '#8a1717',
  orange: '#7a2c08',
  yellow: '#6e4300',
  hale: '#003a7a',
  blue: '#0d3f73',
  gray: '#343a40',
  cyan: '#0a4a52',
  indigo: '#2a3a8c',
  violet: '#432a8c',
  grape: '#65226f',
  pink: '#7a1d45',
  lime: '#3a5213',
  teal: '#05573f',
  green: '#185a28',
};

export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': '#495057',
    '--mantine-color-error': DARK_TEXT['red'] ?? '#8a1717',
    // White text on a filled red badge or button: 7:1 and more.
    '--mantine-color-red-filled': '#9b1c1c',
    '--mantine-color-red-filled-hover': '#7f1616',
    '--mantine-color-anchor': DARK_TEXT['hale'] ?? '#003a7a',
    '--mantine-primary-color-light-color': DARK_TEXT['hale'] ?? '#003a7a',
    // The light variant's hover (the active menu item under the pointer) keeps that text at 7:1.
    '--mantine-primary-color-light-hover': '#c4dcfb',
    '--mantine-color-hale-light-hover': '#c4dcfb',
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
