/*
 * JSON read in slices, for files a page must read without a long task: one scan of the text counts its
 * nesting (refused past a limit before anything is parsed) and finds the elements of a top-level object's
 * `entry` array (a FHIR Bundle's), which are then parsed one by one, a pause possible between them. A 30 MB
 * Bundle is ~200 ms as one JSON.parse.
 *
 * Invariants:
 * - Answers what JSON.parse(text) answers: the same value, or its error's message.
 * - Split only where that is sure: the text is one object whose top level names `entry` exactly once, as
 *   written (no top-level key with an escape), and every element of that array is an object. Otherwise,
 *   and on any error, one JSON.parse of the whole text.
 * - Yields at most every SCAN_SLICE characters of the scan, and after each element parsed.
 */
import { runSteps } from './steps';

/** Characters scanned between two yields. */
const SCAN_SLICE = 1 << 20;

export type JsonRead =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly tooDeep: true; readonly depth: number }
  | { readonly ok: false; readonly tooDeep: false; readonly reason: string };

interface Scan {
  readonly deepest: number;
  /** The `entry` array's brackets and its elements' [start, end) in the text, when the split is sure. */
  readonly entry?: { readonly open: number; readonly close: number; readonly spans: [number, number][] };
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The scan (see the header); stops at a depth past `limit`. */
function* scan(text: string, limit: number): Generator<void, Scan> {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let roots = 0;
  let rootIsObject = false;
  // Top-level keys: the last string ended at depth 1, whether it was "entry" as written, or had an escape.
  let lastString: 'entry' | 'other' | 'escaped' = 'other';
  let entries = 0;
  let unsure = false;
  let expectEntry = false;
  let open = -1;
  let close = -1;
  let inEntry = false;
  let element = -1;
  const spans: [number, number][] = [];
  let next = SCAN_SLICE;
  for (let i = 0; i < text.length; i++) {
    if (i >= next) {
      next += SCAN_SLICE;
      yield;
    }
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c === 0x22) {
        inString = false;
        if (depth === 1)
          lastString = escaped
            ? 'escaped'
            : i - start - 1 === 5 && text.startsWith('entry', start + 1)
              ? 'entry'
              : 'other';
      }
      continue;
    }
    if (isSpace(c)) continue;
    if (depth === 1 && expectEntry) {
      expectEntry = false;
      if (c === 0x5b) {
        open = i;
        inEntry = true;
      }
    }
    if (depth === 2 && inEntry && c !== 0x2c && c !== 0x5d && c !== 0x7b) unsure = true;
    if (c === 0x22) {
      inString = true;
      escaped = false;
      start = i;
    } else if (c === 0x3a) {
      if (depth === 1) {
        if (lastString === 'escaped') unsure = true;
        else if (lastString === 'entry') {
          entries++;
          expectEntry = true;
        }
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) {
        roots++;
        rootIsObject = c === 0x7b;
      }
      if (depth === 2 && inEntry) element = i;
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return { deepest };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 2 && inEntry && element >= 0) {
        spans.push([element, i + 1]);
        element = -1;
      } else if (depth === 1 && inEntry) {
        close = i;
        inEntry = false;
      }
    }
  }
  const sure = roots === 1 && rootIsObject && entries === 1 && !unsure && open >= 0 && close > open;
  return sure ? { deepest, entry: { open, close, spans } } : { deepest };
}

const parsed = (text: string): JsonRead => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, tooDeep: false, reason: error instanceof Error ? error.message : 'not JSON' };
  }
};

/** `text` read as the header says: refused when it nests deeper than `limit`, else JSON.parse's answer. */
export function* jsonSteps(text: string, limit: number): Generator<void, JsonRead> {
  const found = yield* scan(text, limit);
  if (found.deepest > limit) return { ok: false, tooDeep: true, depth: found.deepest };
  const entry = found.entry;
  if (entry === undefined) return parsed(text);
  try {
    const head = JSON.parse(`${text.slice(0, entry.open)}[]${text.slice(entry.close + 1)}`) as Record<
      string,
      unknown
    >;
    const elements: unknown[] = [];
    for (const [from, to] of entry.spans) {
      elements.push(JSON.parse(text.slice(from, to)));
      yield;
    }
    head['entry'] = elements;
    return { ok: true, value: head };
  } catch {
    return parsed(text);
  }
}

/** `jsonSteps` run to its end at once. */
export const readJson = (text: string, limit: number): JsonRead => runSteps(jsonSteps(text, limit));
