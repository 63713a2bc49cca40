// Unit tests of the labextension's model and views (test/*.test.ts), in jsdom.
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // @panzoom/panzoom says "type: module" but its "main" is a UMD file; bundlers take its
    // "module" (the ES build), and so must the tests.
    alias: {
      '@panzoom/panzoom': fileURLToPath(
        new URL('./node_modules/@panzoom/panzoom/dist/panzoom.es.js', import.meta.url)
      )
    }
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.ts']
  }
});
