import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';

/**
 * Where the generated admin client's one-time message goes: the terminal when
 * a person is watching one, else a 0600 file in the data dir, so the secret
 * never lands in container logs. The log says where, never what.
 */
export function announceCredentials(dataDir: string, log: Logger, isTerminal: boolean): (text: string) => void {
  return (text) => {
    if (isTerminal) {
      console.log(text);
      return;
    }
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'admin-client-credentials.txt');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
    log.warn(
      `admin API client created; its secret was written to ${file} (mode 0600, shown nowhere else): read it, keep it in your secret store, then delete the file`,
      { file },
    );
  };
}
