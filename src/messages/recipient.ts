/**
 * Who a message goes to, as the API takes it: a phone number in international
 * format (digits, an optional leading `+`) or a user JID (`…@s.whatsapp.net`,
 * `…@lid`). Groups are not carried yet.
 */

export class RecipientError extends Error {
  readonly code = 'ERR_RECIPIENT';
}

const phonePattern = /^\+?(\d{6,15})$/;
const userJidPattern = /^(\d{1,20})(?::\d+)?@(s\.whatsapp\.net|lid)$/;

/** The recipient's JID (device suffixes dropped: a message goes to every device of the user). */
export function recipientJid(to: string): string {
  const phone = phonePattern.exec(to);
  if (phone) return `${phone[1]}@s.whatsapp.net`;
  const jid = userJidPattern.exec(to);
  if (jid) return `${jid[1]}@${jid[2]}`;
  if (to.endsWith('@g.us')) throw new RecipientError('groups are not supported yet');
  throw new RecipientError('must be a phone number in international format (digits, optional +) or a …@s.whatsapp.net / …@lid JID');
}

/** Whether WhatsApp can be asked if the recipient is on it (a phone number; LIDs are always accounts). */
export function isPhoneJid(jid: string): boolean {
  return jid.endsWith('@s.whatsapp.net');
}
