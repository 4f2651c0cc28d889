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
    // The ESP32 core is pure: state and bytes in, state and bytes out (STYLE.md §1).
    files: ['simulator/esp32/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impure.map((name) => ({ name, message: 'simulator/esp32 is pure: pass I/O in through a port.' })),
        patterns: [{ group: ['../device/*', '../fleet/*', '../../server/*', '../../harness/*', '../../cli/*'],
          message: 'The core never imports adapters or higher layers.' }],
      }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Time is an input.' },
        { name: 'setInterval', message: 'Time is an input.' }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Time is an input.' },
        { object: 'Math', property: 'random', message: 'Pass a seeded RNG.' }],
    },
  },
);
