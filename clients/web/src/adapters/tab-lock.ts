/**
 * One tab at a time holds this device's crypto state (Web Locks API). Two tabs on one IndexedDB
 * would each load the same ratchet state, encrypt with the same message keys and overwrite each
 * other's sessions; with an exclusive lock the second tab stays out and says so ("Hush is open in
 * another tab", with "Use here"), and takes over when the first one closes or hands over. The
 * device is the browser profile (one IndexedDB database), so the lock name is fixed.
 */
export const DEVICE_LOCK = 'hush-device';
/** Tabs of this profile ask the holder to hand over here (BroadcastChannel, same origin only). */
export const TAB_CHANNEL = 'hush-tabs';

/**
 * Resolves true when this tab now holds the lock (for the life of the page), false when another
 * tab holds it. Browsers without Web Locks (none current) get true: the old behaviour.
 */
export function holdDeviceLock(locks: LockManager | undefined = navigator.locks): Promise<boolean> {
  if (!locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    void locks.request(DEVICE_LOCK, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      // Returning a promise that never settles keeps the lock until the page goes away.
      return lock ? new Promise<never>(() => {}) : undefined;
    });
  });
}

/** Waits for the lock (the other tab closed or handed over) and then holds it for the life of the page. */
export function waitDeviceLock(locks: LockManager | undefined = navigator.locks): Promise<void> {
  if (!locks) return Promise.resolve();
  return new Promise((resolve) => {
    void locks.request(DEVICE_LOCK, () => {
      resolve();
      return new Promise<never>(() => {});
    });
  });
}

/** The waiting tab: asks the tab holding the lock to let go ("Use here"). */
export function askToTakeOver(): void {
  const ch = new BroadcastChannel(TAB_CHANNEL);
  ch.postMessage({ t: 'take-over' });
  ch.close();
}

/** The holding tab: calls `leave` when another tab asks to take over. */
export function onTakeOver(leave: () => void): void {
  const ch = new BroadcastChannel(TAB_CHANNEL);
  ch.onmessage = (e: MessageEvent) => {
    if ((e.data as { t?: unknown } | null)?.t === 'take-over') leave();
  };
}
