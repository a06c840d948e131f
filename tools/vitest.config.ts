import { defineConfig } from 'vitest/config';

// tools:test — end-to-end tests of the workbench's services as users meet them (the MLflow UI in a
// browser). One file at a time: they share the test MLflow server.
export default defineConfig({
  test: {
    include: ['*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
