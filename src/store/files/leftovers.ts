/**
 * Names of the short-lived files and folders the file store makes, each carrying the
 * holder that made it, so that what a crashed process left behind can be told from
 * what a live one is still working on:
 *   `<root>/.removed-<holder>.<random>`            a deleted session folder (still holding credentials)
 *   `<session>/.lease.<epoch>.<holder>.<random>.tmp` a lease being written before its link()
 *   `<root>/.holders/.<holder>.<random>.tmp`      a heartbeat being written before its rename
 * Names without a holder come from versions before this one.
 */
import { randomBytes } from 'node:crypto';

const removedPattern = /^\.removed-(?:(.+)\.)?([0-9a-f]{12})$/;
const leaseTempPattern = /^\.lease\.\d+\.(?:(.+)\.)?([0-9a-f]{12})\.tmp$/;
const heartbeatTempPattern = /^\.(.+)\.([0-9a-f]{8})\.tmp$/;

export function removedFolderName(holder: string): string {
  return `.removed-${holder}.${randomBytes(6).toString('hex')}`;
}

export function leaseTempName(epoch: number, holder: string): string {
  return `.lease.${epoch}.${holder}.${randomBytes(6).toString('hex')}.tmp`;
}

export function heartbeatTempName(holder: string): string {
  return `.${holder}.${randomBytes(4).toString('hex')}.tmp`;
}

/** The writer of a leftover in the sessions root: its holder, null for an old name without one, undefined when it is none. */
export function removedFolderWriter(name: string): string | null | undefined {
  const match = removedPattern.exec(name);
  return match ? (match[1] ?? null) : undefined;
}

/** The writer of a lease temp file in a session folder (as removedFolderWriter). */
export function leaseTempWriter(name: string): string | null | undefined {
  const match = leaseTempPattern.exec(name);
  return match ? (match[1] ?? null) : undefined;
}

/** The writer of a heartbeat temp file in the holders folder. */
export function heartbeatTempWriter(name: string): string | undefined {
  return heartbeatTempPattern.exec(name)?.[1];
}
