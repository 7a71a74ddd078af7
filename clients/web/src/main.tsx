import { render } from 'preact';
import { clientServer } from './adapters/client.js';
import { systemClock } from './adapters/clock.js';
import { createCryptoPort } from './adapters/crypto.js';
import { VaultSlot } from './adapters/vault-history.js';
import { Engine } from './engine/index.js';
import { IdbRecordStore } from './store/idb.js';
import { App } from './ui/App.js';
import { DevicesContext } from './ui/Devices.js';
import { ActionsContext, StoreContext } from './ui/hooks.js';
import { applyTheme, savedTheme } from './ui/theme.js';
import './styles/base.css';
import './styles/layout.css';
import './styles/chat.css';
import './styles/verify.css';
import './styles/devices.css';

applyTheme(savedTheme());

async function main() {
  const slot = new VaultSlot(await IdbRecordStore.open());
  const engine = new Engine({
    history: await slot.open(),
    unlockHistory: (passphrase) => slot.unlock(passphrase),
    reopenHistory: () => slot.reopen(),
    // Keys and sessions live in the same vault as the history (sign-out replaces both).
    crypto: createCryptoPort(() => slot.vault()),
    server: (session, onSession) => clientServer(location.origin, session, onSession),
    clock: systemClock,
    deviceName: deviceName(),
    isVisible: () => document.visibilityState === 'visible',
  });
  document.addEventListener('visibilitychange', () => engine.visibilityChanged());
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
