import type {Consent} from './api';
import type {Locale} from './locale';
import {consentTone} from './tones';

/** WhatsApp marketing consent: its state, since when, and a stop Shopify has not recorded yet. */
export function ConsentRow({consent, locale}: {consent: Consent; locale: Locale}) {
  const {t, date} = locale;
  const writeBack = consent.write_back;
  return (
    <s-stack direction="block" gap="small-200">
      <s-stack direction="inline" gap="small-200" alignItems="center">
        <s-text type="strong">{t('consent.label')}</s-text>
        <s-badge tone={consentTone(consent.state)}>{t(`consent.state.${consent.state}`)}</s-badge>
        <s-text color="subdued">
          {consent.updated_at ? t('consent.since', {date: date(consent.updated_at)}) : t('consent.never')}
        </s-text>
      </s-stack>
      {writeBack?.refused ? (
        <s-banner tone="warning" heading={t('consent.writeBack.refusedHeading')}>
          <s-paragraph>
            {t('consent.writeBack.refused', {
              reason: writeBack.refused,
              date: writeBack.retry_at ? date(writeBack.retry_at) : '—',
            })}
          </s-paragraph>
        </s-banner>
      ) : writeBack ? (
        <s-text color="subdued">{t('consent.writeBack.pending', {date: date(writeBack.stopped_at)})}</s-text>
      ) : null}
    </s-stack>
  );
}
