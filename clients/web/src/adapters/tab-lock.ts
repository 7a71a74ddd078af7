/**
 * One tab at a time holds this device's crypto state (Web Locks API). Two tabs on one IndexedDB
 * would each load the same ratchet state, encrypt with the same message keys and overwrite each
 * other's sessions; with an exclusive lock the second tab stays out and says so, and takes over
 * when the first one closes. The device is the browser profile (one IndexedDB database), so the
 * lock name is fixed.
 */
export const DEVICE_LOCK = 'hush-device';

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

/** Calls `then` once the tab holding the lock has closed (the lock is free again). */
export function whenDeviceLockFree(then: () => void, locks: LockManager | undefined = navigator.locks): void {
  void locks?.request(DEVICE_LOCK, async () => then());
}
