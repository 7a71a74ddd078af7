import { render } from 'preact';
import { clientServer } from './adapters/client.js';
import { createCryptoPort } from './adapters/crypto.js';
import { Engine } from './engine/engine.js';
import { IdbRecordStore } from './store/idb.js';
import { Vault } from './store/vault.js';
import { App } from './ui/App.js';
import { DevicesContext } from './ui/Devices.js';
import { ActionsContext, StoreContext } from './ui/hooks.js';
import { applyTheme, savedTheme } from './ui/theme.js';
import './styles.css';

applyTheme(savedTheme());

async function main() {
  const records = await IdbRecordStore.open();
  const vault = (await Vault.isLocked(records)) ? null : await Vault.open(records);
  const engine: Engine = new Engine({
    vault,
    unlockVault: (passphrase) => Vault.unlock(records, passphrase),
    crypto: createCryptoPort((): Vault => engine.vaultNow()),
    server: (session, onSession) => clientServer(location.origin, session, onSession),
    reopenVault: () => Vault.open(records),
    deviceName: deviceName(),
    isVisible: () => document.visibilityState === 'visible',
  });
  document.addEventListener('visibilitychange', () => engine.visibilityChanged());
  // For the browser tests and for the curious: read-only state in the console.
  (globalThis as { hush?: unknown }).hush = { state: () => engine.state };
  render(
    <StoreContext.Provider value={engine.store}>
      <ActionsContext.Provider value={engine}>
        <DevicesContext.Provider value={engine.devices}>
          <App />
        </DevicesContext.Provider>
      </ActionsContext.Provider>
    </StoreContext.Provider>,
    document.getElementById('app')!,
  );
  await engine.boot();
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua)
    ? 'Firefox'
    : /Edg\//.test(ua)
      ? 'Edge'
      : /Chrom/.test(ua)
        ? 'Chromium'
        : 'Browser';
  return `${browser} (web)`.slice(0, 64);
}

void main();
