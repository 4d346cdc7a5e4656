// `npm run lint`: ESLint's and typescript-eslint's recommended rules, without type information (no
// project service), so a run takes seconds. Formatting is Prettier's business (`npm run format`).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Build output, installed packages, coverage, the benchmarks' data and the CLI's default store.
  globalIgnores(['dist/', 'coverage/', '**/node_modules/', 'bench/.data/', '.es/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // Everything here runs on Node: the CLI and library, the tests, the benchmarks and scripts (plain
    // JavaScript modules), the example consumers.
    languageOptions: {
      globals: globals.node,
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // tsconfig has verbatimModuleSyntax: a type-only import must say so (inline `type` in a mixed import).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // A warning: tests read parsed JSON as `any`, and the CLI's lazily loaded command handlers take `any[]`.
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
);
