// The settings table in docs/operations.md is what a self-hoster reads before `--help`: it must name every
// flag the server takes, with the environment variable and default the parser uses, and no flag it lacks.
// The help text is generated from the parser's own table (config.ts OPTIONS), so it is the reference here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { usage } from './config';

interface Setting {
  env: string;
  def: string;
}

/** `--flag ENV meaning (default X)` lines of the help text, by flag. */
const fromHelp = (): Map<string, Setting> => {
  const settings = new Map<string, Setting>();
  for (const line of usage().split('\n')) {
    const match = /^ {2}--([a-z-]+) +([A-Z_]+) .*\(default (.+)\)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined && match[3] !== undefined)
      settings.set(match[1], { env: match[2], def: match[3] });
  }
  return settings;
};

/** Rows `| \`--flag\` | \`ENV\` | \`default\` | meaning |` of the operations guide, by flag. */
const fromDocs = (): Map<string, Setting> => {
  const text = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const settings = new Map<string, Setting>();
  for (const line of text.split('\n')) {
    const match = /^\| `--([a-z-]+)` +\| `([A-Z_]+)` +\| `([^`]+)` +\|/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined && match[3] !== undefined)
      settings.set(match[1], { env: match[2], def: match[3] });
  }
  return settings;
};

describe('docs/operations.md settings table', () => {
  it('names every flag of the help text, with its environment variable and default, and no other', () => {
    const help = fromHelp();
    // Guards the parsing itself: the server has a dozen settings.
    expect(help.size).toBeGreaterThanOrEqual(10);
    expect(Object.fromEntries(fromDocs())).toEqual(Object.fromEntries(help));
  });
});
