import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { type Conversation, type Devices, type DevicesView, formatLastSeen } from '../engine/index.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { groupCode, LinkProgress } from './Link.js';
import { Scanner } from './Verify.js';

export const DevicesContext = createContext<Devices | null>(null);

/** The linking state (engine/devices.ts), re-rendered on every change. */
export function useDevicesView(): DevicesView {
  const devices = useContext(DevicesContext)!;
  const [v, set] = useState(devices.view);
  useEffect(() => {
    const off = devices.subscribe(() => set(devices.view));
    set(devices.view);
    return off;
  }, [devices]);
  return v;
}

const day = (t: number) =>
  new Date(t).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/**
 * "Linked devices": every device signed in to the account, when it was linked and last active,
 * "Sign out device" for the others, and "Link a new device" (scan or paste the new device's code,
 * compare the short code, "Approve").
 */
export function LinkedDevices({ onClose }: { onClose: () => void }) {
  const s = useAppState();
  const a = useActions();
  const v = useDevicesView();
  const now = useNow();
  const [adding, setAdding] = useState(false);
  const [code, setCode] = useState('');
  const [scanning, setScanning] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
    void a.loadDevices();
    return () => a.cancelLink();
  }, [a]);

  const link = v.link?.role === 'old' ? v.link : null;
  const submit = (text: string) => {
    setScanning(false);
    void a.linkNewDevice(text.trim());
  };

  return (
    <section class="devices" aria-labelledby="devices-title">
      <button class="btn small" type="button" onClick={onClose}>
        Back to chats
      </button>
      <h2 id="devices-title" tabIndex={-1} ref={heading}>
        Linked devices
      </h2>
      <p>Every device below can read and send your messages. Sign out any you do not recognise.</p>
      {v.error && (
        <p class="notice" role="alert">
          {v.error}
        </p>
      )}
      <ul class="device-list" aria-busy={v.busy}>
        {(v.devices ?? []).map((d) => (
          <li key={d.deviceId} data-testid="device-row" data-device={d.deviceId}>
            <div>
              <strong class="name">{d.name}</strong>
              {d.current && <span class="tag">This device</span>}
              {!d.linked && <span class="tag warn">Not linked</span>}
            </div>
            <div class="meta">
              {d.linked ? 'Linked' : 'Signed in'} {day(d.createdAt)} ·{' '}
              {d.current
                ? 'active now'
                : formatLastSeen({ online: false, lastSeen: d.lastSeen }, now).replace(/^last seen/, 'last active')}
            </div>
            {!d.current && (
              <button
                class="btn small danger"
                type="button"
                disabled={v.busy}
                aria-label={`Sign out device ${d.name}`}
                onClick={() => void a.signOutDevice(d.deviceId)}
              >
                Sign out device
              </button>
            )}
          </li>
        ))}
      </ul>
      {!link && !adding && (
        <button class="btn primary" type="button" onClick={() => setAdding(true)}>
          Link a new device
        </button>
      )}
      {!link && adding && (
        <form
          class="paste"
          onSubmit={(e) => {
            e.preventDefault();
            submit(code);
          }}
        >
          <p>
            On the new device, sign in to <strong>{s.me?.username}</strong>. It shows a QR code: scan it, or paste its
            text here.
          </p>
          <div class="field">
            <label for="link-code">Link code</label>
            <textarea id="link-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </div>
          <div class="row">
            <button class="btn primary" type="submit" disabled={code.trim().length === 0}>
              Continue
            </button>
            <button class="btn" type="button" aria-pressed={scanning} onClick={() => setScanning(!scanning)}>
              {scanning ? 'Stop camera' : 'Scan QR code'}
            </button>
            <button class="btn" type="button" onClick={() => setAdding(false)}>
              Cancel
            </button>
          </div>
          {scanning && <Scanner onCode={submit} />}
        </form>
      )}
      {link && <ApproveLink onDone={() => setAdding(false)} />}
    </section>
  );
}

function ApproveLink({ onDone }: { onDone: () => void }) {
  const a = useActions();
  const link = useDevicesView().link!;
  if (link.stage === 'waiting') return <p role="status">Connecting to the new device…</p>;
  if (link.stage === 'confirm')
    return (
      <section class="approve" aria-labelledby="approve-title">
        <h3 id="approve-title">Link “{link.deviceName}”?</h3>
        <p>Check that the new device shows this code. If it does not, do not approve.</p>
        <p class="big-code" data-testid="link-compare">
          {groupCode(link.compare ?? '')}
        </p>
        <p>It will be able to read your messages from the last 30 days and everything you receive from now on.</p>
        <div class="row">
          <button class="btn primary" type="button" onClick={() => a.approveLink(true)}>
            Approve
          </button>
          <button
            class="btn"
            type="button"
            onClick={() => {
              a.approveLink(false);
              onDone();
            }}
          >
            Cancel
          </button>
        </div>
      </section>
    );
  if (link.stage === 'transfer') return <LinkProgress link={link} />;
  if (link.stage === 'done')
    return (
      <div>
        <p class="result ok" role="status" data-testid="link-result">
          “{link.deviceName}” is linked. Your contacts will see that you added a device.
        </p>
        <button
          class="btn"
          type="button"
          onClick={() => {
            a.cancelLink();
            onDone();
          }}
        >
          Done
        </button>
      </div>
    );
  return (
    <div>
      <p class="notice" role="alert" data-testid="link-result">
        {link.error}
      </p>
      <button
        class="btn"
        type="button"
        onClick={() => {
          a.cancelLink();
          onDone();
        }}
      >
        Close
      </button>
    </div>
  );
}

/** "Bob added a device" or a refused message from a removed device: a notice in the conversation until dismissed. */
export function DeviceNoticeBanner({ conv }: { conv: Conversation }) {
  const a = useActions();
  if (!conv.deviceNotice) return null;
  return (
    <div class="banner" role="status" data-testid="device-banner">
      <p>{conv.deviceNotice}</p>
      <button class="btn small" type="button" onClick={() => void a.dismissDeviceNotice(conv.peer)}>
        Dismiss
      </button>
    </div>
  );
}
