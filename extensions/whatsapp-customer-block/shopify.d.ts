// The `shopify` global of this extension's target, as `shopify app dev` declares it for each
// module that reads it (only the entry point does; the components get what they need as props).
import '@shopify/ui-extensions';

//@ts-ignore
declare module './src/BlockExtension.tsx' {
  const shopify: import('@shopify/ui-extensions/admin.customer-details.block.render').Api;
  const globalThis: {shopify: typeof shopify};
}
