import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {customerIdFromGid} from './api';
import {localeFrom} from './locale';
import {WhatsAppBlock} from './WhatsAppBlock';

/** Render the block for the customer whose page the merchant is on. */
export default async () => {
  const {data, i18n} = shopify;
  const customerId = customerIdFromGid(data.selected[0]?.id);
  render(<WhatsAppBlock customerId={customerId} locale={localeFrom(i18n)} />, document.body);
};
