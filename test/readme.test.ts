import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { flagsMarkdown } from '../src/config/flags-table.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README documents every flag, as the flag table says (npm run readme:flags)', () => {
  const section = /<!-- flags:start -->\n([\s\S]*?)\n<!-- flags:end -->/.exec(readme)?.[1];
  expect(section).toBe(flagsMarkdown());
});

test("the README's test command is the one .ci/run runs", () => {
  const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
  expect(readme).toContain('```sh\nnpm test\n```');
  // In the main checkout, once (the clean clone runs the README's quick start).
  expect(ci.split('\n')).toContain('npm test');
});
