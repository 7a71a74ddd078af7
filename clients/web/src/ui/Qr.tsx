import { useMemo } from 'preact/hooks';
import qrcode from 'qrcode-generator';

/**
 * Draws a QR code as a GIF data: URL (the CSP allows img-src data:), so no canvas or inline
 * style is needed. Error correction M: room for a phone camera's blur.
 */
export function Qr({ text, label }: { text: string; label: string }) {
  const src = useMemo(() => {
    const q = qrcode(0, 'M');
    q.addData(text, 'Byte');
    q.make();
    return q.createDataURL(6, 4);
  }, [text]);
  return (
    <div class="qr">
      <img src={src} alt={label} width={220} height={220} />
    </div>
  );
}
