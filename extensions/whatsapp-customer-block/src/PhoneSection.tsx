import type {Customer, Fix} from './api';
import type {Locale} from './locale';

export interface ApplyState {
  busy: boolean;
  error: string | null;
  applied: string | null;
  warnings: string[]; // what the saved change cost, in the app's words
}

interface Props {
  customer: Customer;
  fix: Fix | null;
  apply: ApplyState;
  onApply: (phone: string) => void;
  locale: Locale;
}

/** The phone as Shopify holds it and the number WhatsApp gets, or its problem and our fix. */
export function PhoneSection({customer, fix, apply, onApply, locale}: Props) {
  const {t} = locale;
  const problem = customer.phone_problem;
  return (
    <s-stack direction="block" gap="small-200">
      <s-stack direction="inline" gap="small-200">
        <s-text type="strong">{t('phone.label')}</s-text>
        <s-text>{customer.phone ?? t('phone.none')}</s-text>
      </s-stack>
      {customer.phone_e164 && (
        <s-stack direction="inline" gap="small-200">
          <s-text type="strong">{t('phone.sendsTo')}</s-text>
          <s-text>{customer.phone_e164}</s-text>
        </s-stack>
      )}
      {apply.applied && (
        <s-banner tone="success">{t('phone.applied', {phone: apply.applied})}</s-banner>
      )}
      {apply.warnings.length > 0 && (
        <s-banner tone="warning" heading={t('phone.consentReset')}>
          {apply.warnings.map((warning) => (
            <s-paragraph key={warning}>{warning}</s-paragraph>
          ))}
        </s-banner>
      )}
      {problem && (
        <s-banner tone="warning" heading={problem.title}>
          <s-stack direction="block" gap="small-200">
            <s-paragraph>{problem.remedy}</s-paragraph>
            {fix && <FixAction fix={fix} apply={apply} onApply={onApply} locale={locale} />}
          </s-stack>
        </s-banner>
      )}
    </s-stack>
  );
}

function FixAction({fix, apply, onApply, locale}: Omit<Props, 'customer'> & {fix: Fix}) {
  const {t} = locale;
  const phone = fix.suggested_phone;
  if (!phone) return <s-paragraph>{t('phone.noSuggestion')}</s-paragraph>;
  return (
    <s-stack direction="block" gap="small-200">
      <s-paragraph>{t('phone.suggested', {phone})}</s-paragraph>
      {apply.error && <s-text tone="critical">{apply.error}</s-text>}
      <s-button variant="primary" loading={apply.busy} disabled={apply.busy} onClick={() => onApply(phone)}>
        {apply.busy ? t('phone.applying') : t('phone.apply', {phone})}
      </s-button>
    </s-stack>
  );
}
