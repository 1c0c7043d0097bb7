import type {Consent} from './api';
import type {Locale} from './locale';
import {consentTone} from './tones';

/** WhatsApp marketing consent: its state, and since when. */
export function ConsentRow({consent, locale}: {consent: Consent; locale: Locale}) {
  const {t, date} = locale;
  return (
    <s-stack direction="inline" gap="small-200" alignItems="center">
      <s-text type="strong">{t('consent.label')}</s-text>
      <s-badge tone={consentTone(consent.state)}>{t(`consent.state.${consent.state}`)}</s-badge>
      <s-text color="subdued">
        {consent.updated_at ? t('consent.since', {date: date(consent.updated_at)}) : t('consent.never')}
      </s-text>
    </s-stack>
  );
}
