import pino from 'pino';

/** Structured JSON logger of the control plane. Secrets are redacted wherever they appear. */
export type Logger = pino.Logger;

export function createLogger(level: pino.LevelWithSilent): Logger {
  return pino({
    level,
    base: { service: 'control-plane' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        'databaseUrl',
      ],
      censor: '[redacted]',
    },
  });
}
