import { useEffect } from 'preact/hooks';

/**
 * The open chat, kept across a reload of this tab: sessionStorage (this tab only, gone when it
 * closes) holds the peer's opaque user id, nothing else. Drafts, which are content, live in the
 * encrypted store with their conversation (Actions.saveDraft), never here.
 */
const KEY = 'hush.open';

export function restoreOpenChat(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Remembers `peer` (undefined: leave what is stored alone, e.g. while locked or loading). */
export function useKeepOpenChat(peer: string | null | undefined): void {
  useEffect(() => {
    if (peer === undefined) return;
    try {
      if (peer) sessionStorage.setItem(KEY, peer);
      else sessionStorage.removeItem(KEY);
    } catch {
      // storage refused: the chat simply does not reopen after a reload
    }
  }, [peer]);
}
