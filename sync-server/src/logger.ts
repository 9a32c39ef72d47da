// The server's pino logger. Logs carry routing metadata only; as a second line of defence, every field
// named in REDACTED_KEYS (any case) is written as "[redacted]" wherever it sits in what a log call or a
// child logger's bindings pass: at the top level, in nested objects, in arrays, in an error's own fields
// and its cause. So a careless `log.info({ body })` cannot write ciphertext, keys, signatures, tokens,
// invite codes or passphrase material.
//
// The walk is bounded so a log call stays cheap: it copies only what it censors (an ordinary line
// is not copied), and what lies deeper than REDACT_MAX_DEPTH or past REDACT_MAX_VALUES entries is
// not looked at and so not written ("[redacted: too deep]", "[redacted: too large]"). It walks plain
// objects, arrays and errors; other class instances (a request, a Buffer) are left to the serializers,
// which write only chosen fields (`req`: method, route, address).
import { pino, type Logger } from 'pino';

/**
 * Field names whose values never reach the log: ciphertext and wrapped keys (`ct`, `wrapped`,
 * `wrappedRoot`), sealed device names (`sealedName`), signatures (`sig`, and the register request's
 * `wrappingKeySig`, `wrappedRootSig`, `roleSig`), `nonce`, session `token` and the `authorization` header,
 * `passphrase`, the register request's `invite` code (the invite's id is logged as `inviteId`), and of
 * SMART Health Links the viewer's `recipient` and `passcode`, a link's `label` and `contents` (an app from
 * before sealing sends them) and their sealed forms (`sealed`, `sealedRecipient`).
 */
export const REDACTED_KEYS: readonly string[] = [
  'ct',
  'wrapped',
  'wrappedRoot',
  'sealedName',
  'sig',
  'wrappingKeySig',
  'wrappedRootSig',
  'roleSig',
  'nonce',
  'token',
  'authorization',
  'passphrase',
  'invite',
  'recipient',
  'sealedRecipient',
  'passcode',
  'label',
  'contents',
  'sealed',
];

/** Levels of nesting the walk looks into; log lines are a few levels deep. */
export const REDACT_MAX_DEPTH = 10;
/** Entries (fields and array items) the walk looks at per log call or set of bindings. */
export const REDACT_MAX_VALUES = 2_000;

const CENSORED = '[redacted]';
const TOO_DEEP = '[redacted: too deep]';
const TOO_LARGE = '[redacted: too large]';
const SECRET = new Set(REDACTED_KEYS.map((key) => key.toLowerCase()));

interface Walk {
  /** Entries the walk may still look at. */
  left: number;
}

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** The value to write for `value`: itself when nothing in it is censored, else a censored copy. */
const censor = (value: unknown, depth: number, walk: Walk): unknown => {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= REDACT_MAX_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    const items: unknown[] = value;
    let copy: unknown[] | null = null;
    items.forEach((item, i) => {
      const next = walk.left-- > 0 ? censor(item, depth + 1, walk) : TOO_LARGE;
      if (next !== item) (copy ??= [...items])[i] = next;
    });
    return copy ?? items;
  }
  if (value instanceof Error) {
    // message and stack are not enumerable, and are the error's own text; its fields (code, details)
    // and cause can carry anything.
    const fields: Record<string, unknown> = { ...value };
    if (value.cause !== undefined) fields['cause'] = value.cause;
    const censored = censorFields(fields, depth, walk);
    if (censored === null) return value;
    // Of the same class, so pino's error serializer writes it as it would the original (type, stack).
    const copy = new Error(value.message);
    const proto: unknown = Object.getPrototypeOf(value);
    if (typeof proto === 'object') Object.setPrototypeOf(copy, proto);
    if (value.stack === undefined) delete copy.stack;
    else copy.stack = value.stack;
    return Object.assign(copy, censored);
  }
  if (!isPlainObject(value)) return value;
  return censorFields(value, depth, walk) ?? value;
};

/** A censored copy of `value`'s own enumerable fields, or null when none needed censoring. */
const censorFields = (value: object, depth: number, walk: Walk): Record<string, unknown> | null => {
  const entries: [string, unknown][] = Object.entries(value);
  let copy: Record<string, unknown> | null = null;
  for (const [key, item] of entries) {
    if (item === undefined) continue;
    const next =
      walk.left-- <= 0 ? TOO_LARGE : SECRET.has(key.toLowerCase()) ? CENSORED : censor(item, depth + 1, walk);
    if (next !== item) (copy ??= Object.fromEntries(entries))[key] = next;
  }
  return copy;
};

/** What pino writes for a log call's object or a child's bindings. */
const censorRecord = (record: Record<string, unknown>): Record<string, unknown> =>
  censorFields(record, 0, { left: REDACT_MAX_VALUES }) ?? record;

/**
 * pino runs `formatters.bindings` on the root's bindings only; a child's (`log.child({ … })`, Fastify's
 * per-request loggers) go through this instead, set on the root and on every child made through it.
 */
const censorChildBindings = <Levels extends string>(logger: Logger<Levels>): Logger<Levels> => {
  const pinoChild = logger.child.bind(logger);
  // Each child gets its own, bound to itself, so a grandchild keeps its parent's bindings.
  logger.child = (bindings, options) => censorChildBindings(pinoChild(censorRecord(bindings), options));
  return logger;
};

export const createLogger = (level: string, destination?: pino.DestinationStream): Logger =>
  censorChildBindings(
    pino(
      {
        level,
        formatters: { log: censorRecord, bindings: censorRecord },
        base: { service: 'hale-sync-server' },
        serializers: {
          req: (req: { method?: string; url?: string; ip?: string }) => ({
            method: req.method,
            // Query strings may carry tokens; log the route only.
            url: typeof req.url === 'string' ? req.url.split('?')[0] : undefined,
            ip: req.ip,
          }),
        },
      },
      destination,
    ),
  );

export type { Logger };
