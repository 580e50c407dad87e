/**
 * Draws a pairing QR in the terminal for someone at the console. Written to
 * stdout directly, never through the logger: QR text is a secret and log lines
 * are kept and shipped.
 */
import QRCode from 'qrcode';

export function printQrToTerminal(qr: string, label: string): void {
  QRCode.toString(qr, { type: 'terminal', small: true })
    .then((drawing) => process.stdout.write(`\nScan with WhatsApp (Linked devices) for ${label}:\n${drawing}\n`))
    .catch(() => undefined);
}
