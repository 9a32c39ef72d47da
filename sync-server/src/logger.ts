import { pino, type Logger } from 'pino';

/**
 * Logs carry routing metadata only. These paths are censored wherever they appear so that a careless
 * `log.info({ body })` can never write ciphertext, keys, tokens or passphrase material to disk.
 */
export const REDACTED_PATHS = [
  'ct',
  '*.ct',
  'doc.ct',
  'docs[*].ct',
  'rows[*].doc.ct',
  'wrapped',
  '*.wrapped',
  'wrappedRoot',
  '*.wrappedRoot',
  'token',
  '*.token',
  'sig',
  '*.sig',
  'nonce',
  '*.nonce',
  'passphrase',
  '*.passphrase',
  'req.headers.authorization',
  'req.query.token',
  'headers.authorization',
];

export const createLogger = (level: string, destination?: pino.DestinationStream): Logger =>
  pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
  );

export type { Logger };
