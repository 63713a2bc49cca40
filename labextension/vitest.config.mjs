// Unit tests of the labextension's model and views (test/*.test.ts), in jsdom.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.ts']
  }
});
