/**
 * `shopify.i18n.translate` over the real locales/en.default.json, so the tests read the words a
 * merchant reads and a key missing from the locale file fails the test that renders it.
 */
import en from '../locales/en.default.json';

type Tree = {[key: string]: string | Tree};

export function translate(key: string, replacements: Record<string, unknown> = {}): string {
  const found = key.split('.').reduce<string | Tree | undefined>(
    (node, part) => (typeof node === 'object' ? node[part] : undefined),
    en as Tree,
  );
  if (typeof found !== 'string') throw new Error(`locales/en.default.json has no "${key}"`);
  return found.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in replacements)) throw new Error(`"${key}" needs {{${name}}}`);
    return String(replacements[name]);
  });
}
