import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Starts (or reuses, from PIXEL_BERT_TEST_MLFLOW_URI) the real MLflow server the integration tests read from.
    globalSetup: ['./src/testing/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
