export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * One line per event on stdout/stderr. Callers never pass tokens, secrets,
 * passwords or query strings (which can carry codes).
 */
export function createConsoleLogger(): Logger {
  const line = (level: string, message: string) => `${new Date().toISOString()} ${level} ${message}`;
  return {
    info: (message) => console.log(line('info', message)),
    warn: (message) => console.warn(line('warn', message)),
    error: (message) => console.error(line('error', message)),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
