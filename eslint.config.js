// ESLint (flat config): the recommended rules of ESLint and typescript-eslint on every source,
// test and script, plus two project habits: no `any`, and no long positional parameter lists
// (more than five parameters: pass an options object instead).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Build output, installed packages, and the proto files copied into core at build time.
  globalIgnores(['**/dist/', '**/node_modules/', 'packages/core/proto/', 'proto/', '.tmp/']),
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'max-params': ['error', 5],
      // A parameter an implementation must take but does not use is named `_name`.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
