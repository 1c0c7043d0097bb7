/** Text and dates in the merchant's language, from the `shopify.i18n` of the target. */

export interface Locale {
  t: (key: string, replacements?: Record<string, string | number>) => string;
  date: (iso: string) => string;
}

interface I18nLike {
  translate: (key: string, replacements?: Record<string, string | number>) => unknown;
  formatDate: (date: Date, options?: Intl.DateTimeFormatOptions) => string;
}

export function localeFrom(i18n: I18nLike): Locale {
  return {
    t: (key, replacements) => String(i18n.translate(key, replacements)),
    date: (iso) => i18n.formatDate(new Date(iso), {dateStyle: 'medium', timeStyle: 'short'}),
  };
}
