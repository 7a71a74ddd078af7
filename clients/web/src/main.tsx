import { render } from 'preact';
import { backupCodec, vaultBackupStore } from './adapters/backup.js';
import { clientServer } from './adapters/client.js';
import { systemClock } from './adapters/clock.js';
import { createCryptoPort } from './adapters/crypto.js';
import { createMlsPort } from './adapters/mls.js';
import { askToTakeOver, holdDeviceLock, onTakeOver, waitDeviceLock } from './adapters/tab-lock.js';
import { VaultSlot } from './adapters/vault-history.js';
import { Engine } from './engine/index.js';
import { IdbRecordStore } from './store/idb.js';
import { App } from './ui/App.js';
import { BackupContext } from './ui/Backup.js';
import { DevicesContext } from './ui/Devices.js';
import { GroupsContext } from './ui/Groups.js';
import { ActionsContext, StoreContext } from './ui/hooks.js';
import { applyTheme, savedTheme, setTheme } from './ui/theme.js';
import './styles/base.css';
import './styles/layout.css';
import './styles/chat.css';
import './styles/verify.css';
import './styles/devices.css';
import './styles/groups.css';
import './styles/backup.css';
import './styles/everyday.css';
import './styles/media.css';
import './styles/messages.css';
import './styles/shell.css';

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
  // One tab per device holds the keys and sessions; another tab says so and waits its turn, or
  // asks the holder to hand over ("Use here"): that tab reloads into this waiting state.
  if (!(await holdDeviceLock())) {
    render(<OtherTab />, document.getElementById('app')!);
    await waitDeviceLock();
    render(null, document.getElementById('app')!);
  }
  let leaving = false;
  onTakeOver(() => {
    leaving = true;
    location.reload();
  });
  const slot = new VaultSlot(await IdbRecordStore.open());
  // Keys and sessions live in the same vault as the history (sign-out replaces both).
  const cryptoPort = createCryptoPort(() => slot.vault());
  const engine = new Engine({
    history: await slot.open(),
    unlockHistory: (passphrase) => slot.unlock(passphrase),
    reopenHistory: () => slot.reopen(),
    crypto: cryptoPort,
    groupCrypto: createMlsPort(() => slot.vault()),
    server: (session, onSession) => clientServer(location.origin, session, onSession),
    clock: systemClock,
    deviceName: deviceName(),
    isVisible: () => document.visibilityState === 'visible',
    backup: {
      codec: backupCodec(cryptoPort),
      store: vaultBackupStore(() => slot.vault()),
      // The theme travels with the backup; it is the only setting kept outside the engine.
      settings: {
        read: () => ({ theme: savedTheme() ?? '' }),
        apply: (s) => {
          if (s.theme === 'light' || s.theme === 'dark') setTheme(s.theme);
        },
      },
    },
    reload: () => location.reload(),
    eraseStore: () => slot.erase(),
  });
  document.addEventListener('visibilitychange', () => engine.visibilityChanged());
  // Messages in the outbox are stored and go out after a reload, but not from a closed tab: ask
  // first ("Leave site?"; browsers show their own words, not ours).
  addEventListener('beforeunload', (e) => {
    if (!leaving && engine.hasUnsent()) e.preventDefault();
  });
  render(
    <StoreContext.Provider value={engine.store}>
      <ActionsContext.Provider value={engine}>
        <DevicesContext.Provider value={engine.devices}>
          <GroupsContext.Provider value={engine.groups}>
            <BackupContext.Provider value={engine.backup}>
              <App />
            </BackupContext.Provider>
          </GroupsContext.Provider>
        </DevicesContext.Provider>
      </ActionsContext.Provider>
    </StoreContext.Provider>,
    document.getElementById('app')!,
  );
  await engine.boot();
}

/** Shown while another tab of this browser holds Hush. */
function OtherTab() {
  return (
    <main class="auth" aria-labelledby="other-tab-title">
      <h1 id="other-tab-title">Hush is open in another tab</h1>
      <p>
        One tab at a time can use Hush on this device. Keep using the other tab, or use Hush here: the other tab then
        stops, and its messages waiting to be sent go out from here.
      </p>
      <button class="btn primary" type="button" onClick={() => askToTakeOver()}>
        Use here
      </button>
    </main>
  );
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

/**
 * The service worker (public/sw.js) keeps the app shell for an offline start. Registered after the
 * page loaded (it fetches the shell again to cache it) and only in a build: under the dev server it
 * would cache modules that change on every edit.
 */
function registerServiceWorker(): void {
  // import.meta.hot exists only under the dev server (import.meta.env.PROD follows NODE_ENV, which a
  // build started from a test runner inherits as "test").
  if (import.meta.hot || !('serviceWorker' in navigator)) return;
  addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e: unknown) => {
      console.warn('hush: no offline start (service worker not registered)', e);
    });
  });
}

if (!insecureContextNotice()) {
  registerServiceWorker();
  void main();
}
