import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('src/explain', () => {
  it('imports no layer above state: no exec, no cli (it must run without privileges)', () => {
    const dir = new URL('.', import.meta.url).pathname;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const imports = [...readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      expect(
        imports.filter((path) => /\/(exec|cli)\//.test(path ?? '')),
        file,
      ).toEqual([]);
    }
  });
});
