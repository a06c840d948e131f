import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Starts (or reuses, from PIXEL_BERT_TEST_MLFLOW_URI) the real MLflow server the integration tests read from.
    globalSetup: ['./src/testing/global-setup.ts'],
    // Several tests run the CLIs as a user would (a process each, tfjs start-up included): generous on a loaded 2-core machine.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
