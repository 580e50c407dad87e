/**
 * The configuration table (src/app/config-table.ts) against what the service really
 * reads: the same variables, the documented defaults are the real ones, and the
 * generated .env.example and the README's table are current.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { resolvePolicy } from '../../machines/session.policy.js';
import { loadConfig, type ServiceConfig } from '../../src/app/config.js';
import { configVariables, renderEnvExample } from '../../src/app/config-table.js';
import { loggerOptionsFromEnv } from '../../src/logging/logger.js';

const listed = configVariables.map((variable) => variable.name).sort();

/** The names a reader asks for, through an environment that records them. */
function namesRead(read: (env: Record<string, string | undefined>) => unknown, base: Record<string, string>): string[] {
  const names = new Set<string>();
  const env = new Proxy(base, {
    get(target, name) {
      if (typeof name === 'string') names.add(name);
      return target[name as string];
    },
  });
  read(env);
  return [...names].sort();
}

it('lists exactly the variables the configuration reads (an unlisted new one fails here)', () => {
  // With a webhook set, so the variables read only alongside WEBHOOK_URL are read too.
  const base = { WEBHOOK_URL: 'https://crm.example.com/hook', WEBHOOK_SECRET: 'sixteen-chars-at-least' };
  const read = new Set([...namesRead(loadConfig, base), ...namesRead(loggerOptionsFromEnv, {})]);
  expect([...read].sort()).toEqual(listed);
});

it('each documented default is the real one: setting it explicitly changes nothing', () => {
  const normal = (config: ServiceConfig) => ({ ...config, policy: resolvePolicy(config.policy) });
  const unset = normal(loadConfig({}));
  const withDefault = configVariables.filter((variable) => variable.default !== null);
  expect(withDefault.length).toBeGreaterThan(20);
  for (const variable of withDefault) {
    expect({ [variable.name]: normal(loadConfig({ [variable.name]: variable.default! })) }).toEqual({ [variable.name]: unset });
  }
});

it('.env.example is what `npm run env-example` writes from the table', () => {
  expect(readFileSync('.env.example', 'utf8')).toBe(renderEnvExample());
});

it("the README's configuration table names the same variables", () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration (environment)'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| variable |')));
  const firstColumn = table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split(' | ')[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!));
  expect(firstColumn.length).toBeGreaterThan(0);
  expect([...new Set(firstColumn)].sort()).toEqual(listed);
});
