// Lint rules: typescript-eslint's recommended set, plus a ban on raw timers in
// machines/ (every timer there must run on the actor's clock).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'sessions/', 'test-artifacts/', 'src/inspector/public/vendor/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use a delayed transition: timers in machines/ run on the actor clock.' },
        { name: 'setInterval', message: 'Use a delayed transition: timers in machines/ run on the actor clock.' },
        { name: 'clearTimeout', message: 'Timers in machines/ are cancelled by leaving their state.' },
        { name: 'clearInterval', message: 'Timers in machines/ are cancelled by leaving their state.' },
      ],
      'no-restricted-imports': ['error', { patterns: ['../src/*', 'node:*'] }],
    },
  },
);
