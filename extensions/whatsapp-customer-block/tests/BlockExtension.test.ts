/// <reference types="@shopify/ui-extensions/admin.customer-details.block.render" />
// ^ the types of the s-* elements this target renders.

import {getExtension} from '@shopify/ui-extensions-tester';
import {fireEvent, waitFor} from '@testing-library/preact';
import {render} from 'preact';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';

import {fakeApp, json, never, offline, type Answer} from './app';
import afterApply from './fixtures/after-apply.json';
import consented from './fixtures/consented.json';
import fixPhoneAnswer from './fixtures/fix-phone-answer.json';
import fixPhoneResetAnswer from './fixtures/fix-phone-reset-answer.json';
import missingCallingCode from './fixtures/missing-calling-code.json';
import noMessages from './fixtures/no-messages.json';
import writeBackRefused from './fixtures/write-back-refused.json';
import {translate} from './translate';

const STATE = 'GET /api/customers/101/whatsapp';
const FIX = 'POST /api/customers/101/fix-phone';

const extension = getExtension('admin.customer-details.block.render');

beforeEach(() => {
  extension.setUp();
  extension.shopify.data.selected = [{id: 'gid://shopify/Customer/101'}];
  extension.shopify.i18n.translate = translate as typeof extension.shopify.i18n.translate;
});

afterEach(() => {
  render(null, document.body); // unmount, so no effect of this test outlives it
  extension.tearDown();
});

async function renderWith(routes: Record<string, Answer | Answer[]>) {
  const app = fakeApp(routes);
  extension.fetch = app.fetch;
  await extension.render();
  return app;
}

const block = () => document.body.querySelector('s-admin-block')!;
const text = () => block().textContent!.replace(/\s+/g, ' ');
const all = (selector: string) => [...document.body.querySelectorAll(selector)];
const badges = () => all('s-badge').map((b) => [b.textContent, b.getAttribute('tone')]);
const button = (label: string) => all('s-button').find((b) => b.textContent === label);

async function loaded() {
  await waitFor(() => expect(document.body.querySelector('s-spinner')).toBeNull());
}

describe('a consented customer with a valid phone', () => {
  test('shows consent, both phone forms and the messages with links to their campaigns', async () => {
    const app = await renderWith({[STATE]: json(consented)});
    await loaded();

    expect(block().getAttribute('heading')).toBe('WhatsApp');
    expect(block().getAttribute('collapsedSummary')).toBe('Subscribed');
    expect(text()).toContain('Marketing consent');
    expect(text()).toContain(`since ${new Date('2026-11-01T12:00:00+00:00').toISOString()}`);
    expect(text()).toContain('Phone in Shopify+34 612 34 56 78');
    expect(text()).toContain('WhatsApp number+34612345678');
    expect(all('s-banner')).toHaveLength(0);
    expect(button('Apply +34612345679')).toBeUndefined();

    expect(badges()).toEqual([
      ['Subscribed', 'success'],
      ['Failed', 'critical'],
      ['Read', 'success'],
    ]);
    const links = all('s-link').map((l) => [l.textContent, l.getAttribute('href')]);
    expect(links).toEqual([
      ['Summer sale', 'app:campaigns/2'],
      ['Spring sale', 'app:campaigns/1'],
    ]);
    const failure = consented.messages[0]!.error!;
    expect(text()).toContain(failure.title);
    expect(text()).toContain(failure.remedy);

    // One relative request: Shopify resolves it against the app URL and adds the ID token.
    expect(app.received).toEqual([
      {method: 'GET', url: '/api/customers/101/whatsapp', headers: {}, body: undefined},
    ]);
  });
});

describe('a phone missing its calling code', () => {
  test('names the problem, suggests the number and offers Apply', async () => {
    await renderWith({[STATE]: json(missingCallingCode)});
    await loaded();

    const banner = document.body.querySelector('s-banner')!;
    expect(banner.getAttribute('tone')).toBe('warning');
    expect(banner.getAttribute('heading')).toBe('The phone number has no country calling code');
    expect(banner.textContent).toContain(missingCallingCode.customer.phone_problem!.remedy);
    expect(banner.textContent).toContain('Suggested number: +34612345679');
    expect(button('Apply +34612345679')).toBeDefined();
    expect(text()).toContain('Phone in Shopify612 34 56 79');
    expect(text()).not.toContain('WhatsApp number');
  });

  test('Apply writes the approved number, then shows the customer as the app now holds them', async () => {
    const app = await renderWith({
      [STATE]: [json(missingCallingCode), json(afterApply)],
      [FIX]: json(fixPhoneAnswer),
    });
    await loaded();

    fireEvent.click(button('Apply +34612345679')!);

    await waitFor(() => expect(text()).toContain('Phone fixed since this message'));
    expect(text()).toContain('Saved +34612345679 in Shopify.');
    expect(app.received.map((r) => `${r.method} ${r.url}`)).toEqual([STATE, FIX, STATE]);
    const apply = app.received[1]!;
    expect(apply.body).toEqual({phone: '+34612345679'});
    expect(apply.headers['content-type']).toBe('application/json');
    expect(button('Apply +34612345679')).toBeUndefined();
    expect(text()).toContain('WhatsApp number+34612345679');
  });

  test('Apply that cost the customer their consent says so, in the app\'s words', async () => {
    await renderWith({[STATE]: [json(missingCallingCode), offline], [FIX]: json(fixPhoneResetAnswer)});
    await loaded();

    fireEvent.click(button('Apply +34612345679')!);

    await waitFor(() => expect(text()).toContain('Saved +34612345679 in Shopify.'));
    const banner = document.body.querySelector('s-banner[tone="warning"]')!;
    expect(banner.getAttribute('heading')).toBe("The new number lost this customer's marketing consent");
    expect(banner.textContent).toContain(fixPhoneResetAnswer.warnings[0]!.message);
    expect(badges()[0]).toEqual(['Not subscribed', 'neutral']);
  });

  test('when the reload after Apply fails, the saved number still shows', async () => {
    await renderWith({[STATE]: [json(missingCallingCode), offline], [FIX]: json(fixPhoneAnswer)});
    await loaded();

    fireEvent.click(button('Apply +34612345679')!);

    await waitFor(() => expect(text()).toContain('Saved +34612345679 in Shopify.'));
    expect(text()).toContain('WhatsApp number+34612345679');
    expect(button('Apply +34612345679')).toBeUndefined();
    expect(document.body.querySelector('s-banner[tone="critical"]')).toBeNull();
  });

  test('a number Shopify refuses is said plainly, and Apply stays available', async () => {
    const taken = {field: ['phone'], message: 'Phone has already been taken'};
    const refused = json({error: 'shopify_user_errors', errors: [taken]}, 422);
    await renderWith({[STATE]: json(missingCallingCode), [FIX]: refused});
    await loaded();

    fireEvent.click(button('Apply +34612345679')!);

    await waitFor(() => expect(text()).toContain('Shopify did not accept it: Phone has already been taken'));
    expect(button('Apply +34612345679')!.hasAttribute('disabled')).toBe(false);
  });
  test('an app that cannot reach Shopify says the number was not saved', async () => {
    const message = 'Shopify did not answer; try again shortly.';
    const unavailable = json({error: 'shopify_unavailable', message}, 503);
    await renderWith({[STATE]: json(missingCallingCode), [FIX]: unavailable});
    await loaded();

    fireEvent.click(button('Apply +34612345679')!);

    await waitFor(() =>
      expect(text()).toContain('The number could not be saved: Shopify did not answer; try again shortly.'),
    );
    expect(text()).not.toContain('Saved +34612345679');
  });
});

describe('the other states', () => {
  test('a customer no campaign has messaged yet', async () => {
    await renderWith({[STATE]: json(noMessages)});
    await loaded();

    expect(text()).toContain('No campaign has messaged this customer yet.');
    expect(badges()).toEqual([['Not subscribed', 'neutral']]);
    expect(all('s-link')).toHaveLength(0);
  });

  test('a stop Shopify refused to record says so, in Shopify\'s words, and when it is tried again', async () => {
    await renderWith({[STATE]: json(writeBackRefused)});
    await loaded();

    expect(badges()).toEqual([['Unsubscribed', 'warning']]);
    const banner = document.body.querySelector('s-banner[tone="warning"]')!;
    expect(banner.getAttribute('heading')).toBe("Shopify has not recorded this customer's stop");
    expect(text()).toContain('Shopify refused it: Customer must have a phone number.');
    expect(text()).toContain(`tries again on ${new Date('2026-11-01T13:00:00+00:00').toISOString()}`);
  });

  test('loading shows a labelled spinner', async () => {
    await renderWith({[STATE]: never});

    const spinner = document.body.querySelector('s-spinner')!;
    expect(spinner.getAttribute('accessibilityLabel') ?? spinner.getAttribute('accessibilitylabel')).toBe(
      'Loading what WhatsApp knows about this customer…',
    );
  });

  test('an error from the app is shown with Try again, which loads the block', async () => {
    const failed = json({error: 'internal_server_error', message: 'The server failed.'}, 500);
    await renderWith({[STATE]: [failed, json(consented)]});
    await waitFor(() => expect(document.body.querySelector('s-banner[tone="critical"]')).not.toBeNull());
    const banner = document.body.querySelector('s-banner')!;
    expect(banner.getAttribute('heading')).toBe('WhatsApp details could not be loaded');
    expect(text()).toContain('The server failed.');

    fireEvent.click(button('Try again')!);

    await waitFor(() => expect(text()).toContain('Summer sale'));
    expect(document.body.querySelector('s-banner')).toBeNull();
  });

  test('an unreachable app says so', async () => {
    await renderWith({[STATE]: offline});

    await waitFor(() => expect(text()).toContain('The app could not be reached.'));
  });

  test('a customer the app does not know yet', async () => {
    await renderWith({[STATE]: json({error: 'not_found', message: 'This shop has no such customer.'}, 404)});

    await waitFor(() => expect(text()).toContain('This customer has not reached the app yet.'));
  });
});

describe('the customer the block is for', () => {
  test('is read from the admin selection; without one the block asks the app nothing', async () => {
    extension.shopify.data.selected = [];
    const app = await renderWith({});

    await waitFor(() => expect(text()).toContain('This customer has not reached the app yet.'));
    expect(app.received).toEqual([]);
  });
});
