import { render } from 'preact';
import { clientServer } from './adapters/client.js';
import { systemClock } from './adapters/clock.js';
import { createCryptoPort } from './adapters/crypto.js';
import { holdDeviceLock, whenDeviceLockFree } from './adapters/tab-lock.js';
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

/**
 * WebCrypto and IndexedDB need a secure context (https:// or localhost): over plain HTTP from
 * another address the app cannot work, so say what to do instead of showing a blank page.
 */
function insecureContextNotice(): boolean {
  if (window.isSecureContext && globalThis.crypto?.subtle) return false;
  const https = `https://${location.host}${location.pathname}`;
  const root = document.getElementById('app') ?? document.body;
  const box = document.createElement('main');
  box.className = 'insecure-context';
  const h = document.createElement('h1');
  h.textContent = 'Hush needs a secure connection';
  const p = document.createElement('p');
  p.textContent =
    'This page was opened over plain HTTP, where browsers withhold the cryptography Hush encrypts with. ' +
    'Open it over HTTPS, or from localhost on the server itself. Operators: serve Hush behind HTTPS ' +
    '(docker compose includes Caddy; see docs/OPERATIONS.md).';
  const a = document.createElement('a');
  a.href = https;
  a.textContent = `Try ${https}`;
  box.append(h, p, a);
  root.replaceChildren(box);
  return true;
}

async function main() {
  // One tab per device holds the keys and sessions; another tab says so and waits its turn.
  if (!(await holdDeviceLock())) {
    render(
      <main class="placeholder" role="status">
        Hush is open in another tab. Use it there, or close it: this tab takes over when it closes.
      </main>,
      document.getElementById('app')!,
    );
    whenDeviceLockFree(() => location.reload());
    return;
  }
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
  // Messages in the outbox are stored and go out after a reload, but not from a closed tab: ask
  // first ("Leave site?"; browsers show their own words, not ours).
  addEventListener('beforeunload', (e) => {
    if (engine.hasUnsent()) e.preventDefault();
  });
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

if (!insecureContextNotice()) void main();
