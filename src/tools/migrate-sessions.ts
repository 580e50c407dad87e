/**
 * `npm run migrate-sessions -- --from sessions/ --to postgres://…` (or back,
 * `--from postgres://… --to dir/`): moves every session between the files and
 * PostgreSQL, so a single-node install can grow without re-pairing anyone;
 * its webhook subscriptions (secrets included, never printed) go with them.
 * Stop the service first. Prints what it copied, never a credential, never
 * the database password, never a message's text or recipient. Exit 0 copied,
 * 1 refused or failed, 2 bad arguments.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { keyString } from '../store/session-key.js';
import { isDatabaseUrl, redactDatabaseUrl } from '../store/postgres/database-url.js';
import { copySessions, copySubscriptions } from './session-copy.js';
import { openEndpoint, type SessionEndpoint } from './session-endpoints.js';

const usage = 'usage: npm run migrate-sessions -- --from <sessions folder | postgres://…> --to <sessions folder | postgres://…>';

/** Whatever an error says, without a URL's password in it. */
function safeMessage(error: unknown, urls: string[]): string {
  let text = error instanceof Error ? error.message : String(error);
  for (const url of urls) if (url) text = text.split(url).join(redactDatabaseUrl(url));
  for (const url of urls) {
    const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : '';
    if (password) text = text.split(password).join('***');
  }
  return text;
}

export async function main(argv: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let from: string | undefined;
  let to: string | undefined;
  try {
    ({ from, to } = parseArgs({ args: argv, options: { from: { type: 'string' }, to: { type: 'string' } }, strict: true }).values);
  } catch (error) {
    err(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (!from || !to) {
    err(`--${from ? 'to' : 'from'}: required\n${usage}`);
    return 2;
  }
  if (!isDatabaseUrl(from) && !existsSync(from)) {
    err(`--from: ${from} does not exist\n${usage}`);
    return 2;
  }
  const endpoints: SessionEndpoint[] = [];
  try {
    const source = await openEndpoint(from);
    endpoints.push(source);
    const target = await openEndpoint(to);
    endpoints.push(target);
    // Refused before anything is copied: a folder of an old version keeps its subscriptions in one file.
    if ((await source.subscriptions.readAll()).legacy !== null) {
      throw new Error('the source keeps its webhook subscriptions in the old single .webhooks.json: start the service on it once (it converts the file), then copy');
    }
    const copied = await copySessions(source, target, (one) =>
      out(
        `copied ${keyString(one.key)}: ${one.meta ? 'metadata, ' : `no metadata (${one.shouldRun ? 'runs' : 'stopped'}, as in the source), `}` +
          `${one.creds ? 'creds, ' : 'no creds, '}${one.keys} keys, ${one.messages} messages (${one.queued} queued)`,
      ),
    );
    out(`${copied.length} session(s) copied from ${source.location} to ${target.location}`);
    const subscriptions = await copySubscriptions(source.subscriptions, target.subscriptions);
    if (subscriptions.copied.length + subscriptions.present.length > 0) {
      out(
        `${subscriptions.copied.length} webhook subscription(s) copied${subscriptions.present.length ? `, ${subscriptions.present.length} already there (${subscriptions.present.join(', ')})` : ''}: ` +
          'each receives the events of the target from its first start on (events are not copied)',
      );
    }
    return 0;
  } catch (error) {
    err(`migrate-sessions: ${safeMessage(error, [from, to])}`);
    return 1;
  } finally {
    await Promise.all(endpoints.map((e) => e.close().catch(() => undefined)));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(
    process.argv.slice(2),
    (line) => process.stdout.write(`${line}\n`),
    (line) => process.stderr.write(`${line}\n`),
  );
}
