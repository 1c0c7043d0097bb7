import {useCallback, useEffect, useState} from 'preact/hooks';

import {ApiError, applyPhone, loadCustomer, type CustomerWhatsApp} from './api';
import {ConsentRow} from './ConsentRow';
import type {Locale} from './locale';
import {MessageList} from './MessageList';
import {PhoneSection, type ApplyState} from './PhoneSection';

type Load =
  | {kind: 'loading'}
  | {kind: 'failed'; error: ApiError}
  | {kind: 'missing'}
  | {kind: 'ready'; data: CustomerWhatsApp};

const IDLE: ApplyState = {busy: false, error: null, applied: null, warnings: []};

/** The block: loads the customer's WhatsApp state from our app and renders every state of it. */
export function WhatsAppBlock({customerId, locale}: {customerId: string | null; locale: Locale}) {
  const [load, setLoad] = useState<Load>({kind: 'loading'});
  const [apply, setApply] = useState<ApplyState>(IDLE);

  // `quiet`: keep what is shown when the reload fails (after Apply, the save itself succeeded).
  const refresh = useCallback(
    async (quiet = false) => {
      if (!customerId) return setLoad({kind: 'missing'});
      try {
        const data = await loadCustomer(customerId);
        setLoad(data ? {kind: 'ready', data} : {kind: 'missing'});
      } catch (error) {
        if (!quiet) setLoad({kind: 'failed', error: error as ApiError});
      }
    },
    [customerId],
  );

  useEffect(() => {
    refresh();
  }, [refresh]);

  const onApply = async (phone: string) => {
    setApply({...IDLE, busy: true});
    try {
      const {warnings, ...customer} = await applyPhone(customerId!, phone);
      setApply({...IDLE, applied: phone, warnings: warnings.map((w) => w.message)});
      setLoad((shown) =>
        shown.kind === 'ready' ? {kind: 'ready', data: {...shown.data, customer, fix: null}} : shown,
      );
      await refresh(true); // the messages' fixes too, as the app now holds them
    } catch (error) {
      setApply({...IDLE, error: applyFailure(error as ApiError, locale)});
    }
  };

  const retry = () => {
    setLoad({kind: 'loading'});
    refresh();
  };

  return (
    <s-admin-block heading={locale.t('heading')} collapsedSummary={summary(load, locale)}>
      <Body load={load} apply={apply} onApply={onApply} onRetry={retry} locale={locale} />
    </s-admin-block>
  );
}

interface BodyProps {
  load: Load;
  apply: ApplyState;
  onApply: (phone: string) => void;
  onRetry: () => void;
  locale: Locale;
}

function Body({load, apply, onApply, onRetry, locale}: BodyProps) {
  const {t} = locale;
  switch (load.kind) {
    case 'loading':
      return (
        <s-stack direction="inline" gap="small-200" alignItems="center">
          <s-spinner accessibilityLabel={t('loading')} />
          <s-text color="subdued">{t('loading')}</s-text>
        </s-stack>
      );
    case 'failed':
      return (
        <s-banner tone="critical" heading={t('error.heading')}>
          <s-stack direction="block" gap="small-200">
            <s-paragraph>{describe(load.error, locale)}</s-paragraph>
            <s-button onClick={onRetry}>{t('error.retry')}</s-button>
          </s-stack>
        </s-banner>
      );
    case 'missing':
      return <s-paragraph color="subdued">{t('missing')}</s-paragraph>;
    case 'ready': {
      const {customer, fix, messages} = load.data;
      return (
        <s-stack direction="block" gap="base">
          <ConsentRow consent={customer.consent} locale={locale} />
          <PhoneSection customer={customer} fix={fix} apply={apply} onApply={onApply} locale={locale} />
          <s-divider />
          <MessageList messages={messages} locale={locale} />
        </s-stack>
      );
    }
  }
}

/** What the collapsed block says: the consent state, once known. */
function summary(load: Load, {t}: Locale): string | undefined {
  return load.kind === 'ready' ? t(`consent.state.${load.data.customer.consent.state}`) : undefined;
}

/** Shopify's own refusal (422: its userErrors) reads differently from the app failing. */
function applyFailure(error: ApiError, locale: Locale): string {
  const reason = describe(error, locale);
  return locale.t(error.status === 422 ? 'phone.refused' : 'phone.failed', {reason});
}

function describe(error: ApiError, {t}: Locale): string {
  if (error.reasons.length) return error.reasons.join('; ');
  return error.status === 0 ? t('error.network') : t('error.status', {status: error.status});
}
