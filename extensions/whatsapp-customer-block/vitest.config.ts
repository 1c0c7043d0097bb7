import {defineConfig} from 'vitest/config';

export default defineConfig({
  esbuild: {jsx: 'automatic', jsxImportSource: 'preact'},
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    // The tester imports the extension's module itself: processed by Vitest, that import of
    // src/BlockExtension.tsx is compiled like the tests' own imports.
    server: {deps: {inline: ['@shopify/ui-extensions-tester']}},
  },
});
