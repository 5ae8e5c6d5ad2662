// Rewrites the flag reference in README.md from the flag table (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { flagsMarkdown } from '../dist/config/flags-table.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const updated = readme.replace(/(<!-- flags:start -->\n)[\s\S]*?(\n<!-- flags:end -->)/, `$1${flagsMarkdown()}$2`);
writeFileSync(path, updated);
