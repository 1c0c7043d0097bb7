/** Which Polaris tone says what a state means at a glance. */
import type {Message} from './api';

export type Tone = 'success' | 'info' | 'caution' | 'warning' | 'critical' | 'neutral';

const CONSENT_TONES: Record<string, Tone> = {
  SUBSCRIBED: 'success',
  PENDING: 'caution',
  UNSUBSCRIBED: 'warning',
};

const STATUS_TONES: Record<string, Tone> = {
  read: 'success',
  delivered: 'success',
  sent: 'info',
  accepted: 'info',
  failed: 'critical',
  expired: 'warning',
};

export const consentTone = (state: string): Tone => CONSENT_TONES[state] ?? 'neutral';
export const statusTone = (status: string): Tone => STATUS_TONES[status] ?? 'neutral';

/** When the message reached its current status (null while it waits to be sent). */
export function statusTime(message: Message): string | null {
  const times: Record<string, string | null> = {
    read: message.read_at,
    delivered: message.delivered_at,
    sent: message.sent_at,
    failed: message.failed_at,
    expired: message.expired_at,
  };
  return times[message.status] ?? message.sent_at;
}
