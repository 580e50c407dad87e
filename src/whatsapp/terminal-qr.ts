/**
 * Draws a pairing QR in the terminal for someone at the console. Written to
 * stderr directly, never through the logger: QR text is a secret, log lines
 * are kept and shipped, and stdout may be a JSON log stream that ANSI art
 * would corrupt. Nothing is drawn when stderr is not a terminal (a pipe, a
 * file, journald): nobody could scan it there.
 */
import QRCode from 'qrcode';

export interface TerminalLike {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** One per connection attempt: draws each distinct QR once. */
export function createTerminalQrPrinter(label: string, out: TerminalLike = process.stderr): (qr: string) => Promise<boolean> {
  let lastDrawn: string | null = null;
  return async (qr) => {
    if (out.isTTY !== true || qr === lastDrawn) return false;
    lastDrawn = qr;
    try {
      const drawing = await QRCode.toString(qr, { type: 'terminal', small: true });
      out.write(`\nScan with WhatsApp (Linked devices) for ${label}:\n${drawing}\n`);
      return true;
    } catch {
      return false;
    }
  };
}
