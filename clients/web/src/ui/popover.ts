import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * A button that opens a small panel (a menu, a picker, a dialog): on open the panel's first
 * control (`focusSel`) takes focus; Escape or `close()` shuts it and gives focus back to the button.
 */
export function usePopover<T>(closed: T, focusSel: string) {
  const [state, set] = useState<T>(closed);
  const opener = useRef<HTMLButtonElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const close = () => {
    set(closed);
    opener.current?.focus();
  };
  useEffect(() => {
    if (state === closed) return;
    box.current?.querySelector<HTMLElement>(focusSel)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [state]);
  return { state, set, opener, box, close };
}
