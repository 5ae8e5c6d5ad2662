/** The dry run's transcript file (`DRY_RUN_FILE_PATH`), written for both modes. */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Writes the transcript; a path that cannot be written is bad input, named by its variable. */
export function writeTranscript(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    throw new ConfigError([
      {
        source: 'environment variable DRY_RUN_FILE_PATH',
        value: path,
        message: `cannot write: ${(error as Error).message}`,
      },
    ]);
  }
}
