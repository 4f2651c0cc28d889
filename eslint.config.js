// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Modules that do I/O, keep time or draw randomness: the pure core must not import them. */
const impure = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:tls',
  'node:child_process', 'node:timers', 'node:timers/promises', 'node:worker_threads', 'fs', 'net',
  'mqtt', 'undici', 'aedes', 'pg', 'fastify'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['protocol/**', 'simulator/**', 'server/**', 'harness/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // The ESP32 core, the device firmware and the fault decisions are pure: state and events in,
    // state and effects out (STYLE.md §1).
    files: ['simulator/esp32/**', 'simulator/device/**', 'simulator/faults/**'],
    // The device runtime and the fault appliers are the adapters that bind the pure core to I/O.
    ignores: ['simulator/device/runtime*', 'simulator/device/ports*', 'simulator/device/transport*', 'simulator/faults/apply-*'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impure.map((name) => ({ name, message: 'This code is pure: pass I/O in through a port.' })),
        patterns: [{ group: ['../fleet/*', '../device/runtime*', '../device/ports*', '../device/transport*',
          '../faults/apply-*', '../../server/*', '../../harness/*', '../../cli/*'],
        message: 'The pure core never imports adapters or higher layers.' }],
      }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Time is an input.' },
        { name: 'setInterval', message: 'Time is an input.' }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Time is an input.' },
        { object: 'Math', property: 'random', message: 'Pass a seeded RNG.' }],
    },
  },
  {
    // The chip is the bottom layer: it knows nothing of the firmware that runs on it.
    files: ['simulator/esp32/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impure.map((name) => ({ name, message: 'This code is pure: pass I/O in through a port.' })),
        patterns: [{ group: ['../device/*', '../faults/*', '../fleet/*', '../../server/*', '../../harness/*', '../../cli/*'],
          message: 'simulator/esp32 is the bottom layer: it never imports the firmware, faults or adapters.' }],
      }],
    },
  },
);
