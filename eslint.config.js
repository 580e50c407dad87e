// Lint rules: typescript-eslint's recommended set, plus a ban on raw timers in
// machines/ (every timer there must run on the actor's clock).
import tseslint from 'typescript-eslint';

/**
 * src/'s folders, bottom up. A folder may import the folders on earlier rows, never its own row's
 * others nor anything later: so the import graph between folders has no cycle, and storage knows
 * no socket, the outbox no subscriber, the registry no HTTP. The composition (`app/`) is the only
 * folder that knows them all; `main.ts` and `demo.ts` at src/'s root start it.
 */
const layers = [
  ['config', 'logging', 'schema'],
  ['store', 'sim'],
  ['whatsapp', 'session'],
  ['service', 'outbox'],
  ['messages', 'webhooks'],
  ['tools'],
  ['metrics'],
  ['http'],
  ['inspector'],
  ['app'],
];

function layerRules() {
  return layers.flatMap((row, rank) =>
    row.map((folder) => {
      const above = layers.slice(rank).flat().filter((other) => other !== folder);
      return {
        files: [`src/${folder}/**/*.ts`],
        rules: {
          'no-restricted-imports': [
            'error',
            {
              patterns: [
                {
                  group: [...above.map((other) => `**/${other}/*`), '**/test/*', '**/bench/*', '**/fixtures/*'],
                  message: `src/${folder}/ sits below these folders and never imports them: receive what you need instead (docs/architecture.md).`,
                },
              ],
            },
          ],
        },
      };
    }),
  );
}

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
  // One-way layers: each folder of src/ imports only folders below it (docs/architecture.md).
  ...layerRules(),
  // Production code knows no test; benchmarks and scripts share fixtures with the tests, never the tests' own support.
  {
    files: ['src/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/*', '**/bench/*', '**/fixtures/*'], message: 'Production code imports no test, benchmark or fixture.' }] }],
    },
  },
  {
    files: ['fixtures/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/*'], message: 'Shared fixtures live in fixtures/: test/ belongs to the tests.' }] }],
    },
  },
);
