import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; credentials are redacted wherever they could appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'trellis' },
    redact: {
      paths: ['req.headers.authorization', 'authorization', 'token', 'password', 'secret', '*.password', '*.token'],
      censor: '[redacted]',
    },
  });
}
