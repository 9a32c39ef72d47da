// The Mantine theme: a calm clinical palette, system fonts (CJK included), larger touch targets.
import { createTheme, type MantineColorsTuple } from '@mantine/core';

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
  },
});
