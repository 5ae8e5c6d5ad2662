/** The README's flag reference, generated from the flag table so the two cannot drift apart. */
import { FLAG_SPECS } from './flag-spec.js';

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function flagsMarkdown(): string {
  const rows = FLAG_SPECS.map((spec) => {
    const names = [`\`--${spec.long}\``, 'short' in spec && spec.short ? `\`-${spec.short}\`` : '']
      .filter(Boolean)
      .join(' ');
    const env = spec.env.map((e) => `\`${e}\``).join(', ') || '–';
    const config = 'configKey' in spec && spec.configKey ? `\`${spec.configKey}\`` : '–';
    const def = spec.default === undefined ? '(derived)' : spec.default === '' ? '""' : `\`${String(spec.default)}\``;
    const origin = 'extension' in spec && spec.extension ? ' *(this tool)*' : '';
    return `| ${names} | ${env} | ${config} | ${def} | ${cell(spec.describe)}${origin} |`;
  });
  return ['| flag | env | config key | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
