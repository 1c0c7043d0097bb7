import type {Message} from './api';
import type {Locale} from './locale';
import {statusTime, statusTone} from './tones';

/** The customer's latest campaign messages, each linking to its campaign page in the app. */
export function MessageList({messages, locale}: {messages: Message[]; locale: Locale}) {
  const {t} = locale;
  return (
    <s-stack direction="block" gap="small-200">
      <s-heading>{t('messages.heading')}</s-heading>
      {messages.length === 0 ? (
        <s-paragraph color="subdued">{t('messages.empty')}</s-paragraph>
      ) : (
        messages.map((message) => <MessageRow key={message.id} message={message} locale={locale} />)
      )}
    </s-stack>
  );
}

function MessageRow({message, locale}: {message: Message; locale: Locale}) {
  const {t, date} = locale;
  const when = statusTime(message);
  return (
    <s-stack direction="block" gap="small-300">
      <s-stack direction="inline" gap="small-200" alignItems="center">
        {/* app: opens the campaign's page inside our embedded app. */}
        <s-link href={`app:campaigns/${message.campaign.id}`}>{message.campaign.name}</s-link>
        <s-badge tone={statusTone(message.status)}>{t(`messages.status.${message.status}`)}</s-badge>
        {when && <s-text color="subdued">{date(when)}</s-text>}
      </s-stack>
      {message.error && (
        <s-stack direction="block" gap="small-300">
          <s-text tone="critical">{message.error.title}</s-text>
          <s-text color="subdued">{message.error.remedy}</s-text>
        </s-stack>
      )}
      {message.fix?.fixed && <s-text tone="success">{t('messages.fixed')}</s-text>}
    </s-stack>
  );
}
