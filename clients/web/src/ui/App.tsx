import { useCallback, useEffect, useState } from 'preact/hooks';
import { Auth } from './Auth.js';
import { BackupSettings } from './Backup.js';
import { Chat } from './Chat.js';
import { LinkedDevices } from './Devices.js';
import { GroupChat } from './GroupChat.js';
import { NewGroup } from './Groups.js';
import { useActions, useAppState } from './hooks.js';
import { LinkThisDevice } from './Link.js';
import { savedIdleMinutes, Unlock, useIdleLock } from './Lock.js';
import { useNotifications } from './Notify.js';
import { restoreOpenChat, useKeepOpenChat } from './open-chat.js';
import { Sidebar } from './Sidebar.js';
import { Verify } from './Verify.js';

export function App() {
  const s = useAppState();
  const a = useActions();
  const [selected, setSelected] = useState<string | null>(restoreOpenChat);
  const [verifying, setVerifying] = useState(false);
  const [devices, setDevices] = useState(false);
  const [backup, setBackup] = useState(false);

  // Groups are selected as `g:<id>` (`g:new`: the "New group" form); GroupChat tells the engine.
  const group = selected?.startsWith('g:') ? selected.slice(2) : null;
  useEffect(() => {
    a.openConversation(selected?.startsWith('g:') ? null : selected);
  }, [selected, a]);
  useEffect(() => {
    if (s.phase === 'signed-out' || s.phase === 'link') setSelected(null);
  }, [s.phase]);
  // The open chat survives a reload (and an app-lock unlock).
  useKeepOpenChat(s.phase === 'ready' ? selected : undefined);
  // With an app lock, an idle page locks itself after the chosen time.
  const [idleMinutes, setIdleMinutes] = useState(savedIdleMinutes);
  useEffect(() => {
    const on = () => setIdleMinutes(savedIdleMinutes());
    addEventListener('hush-idle-changed', on);
    return () => removeEventListener('hush-idle-changed', on);
  }, []);
  const lockNow = useCallback(() => a.lockNow(), [a]);
  useIdleLock(s.appLock && s.phase === 'ready', idleMinutes, lockNow);
  // A notification's click opens its chat; the title counts unread messages.
  useNotifications((peer) => {
    setDevices(false);
    setBackup(false);
    setVerifying(false);
    setSelected(peer);
  });

  if (s.phase === 'loading')
    return (
      <main class="placeholder" aria-busy="true">
        Opening your encrypted store…
      </main>
    );
  if (s.phase === 'locked') return <Unlock />;
  if (s.phase === 'signed-out') return <Auth />;
  if (s.phase === 'link') return <LinkThisDevice />;

  const select = (peer: string | null) => {
    setVerifying(false);
    setDevices(false);
    setBackup(false);
    setSelected(peer);
  };
  return (
    <div class={`shell${selected || devices || backup ? ' in-chat' : ''}`}>
      <Sidebar
        selected={selected}
        onSelect={select}
        onDevices={() => {
          setSelected(null);
          setBackup(false);
          setDevices(true);
        }}
        onBackup={() => {
          setSelected(null);
          setDevices(false);
          setBackup(true);
        }}
      />
      <main class="chat-pane">
        {backup ? (
          <BackupSettings onClose={() => setBackup(false)} />
        ) : devices ? (
          <LinkedDevices onClose={() => setDevices(false)} />
        ) : group === 'new' ? (
          <NewGroup onCreated={(id) => select(`g:${id}`)} onCancel={() => select(null)} />
        ) : group !== null ? (
          <GroupChat key={group} groupId={group} onBack={() => select(null)} onOpenChat={(u) => select(u)} />
        ) : selected === null ? (
          <div class="placeholder">
            <p>Pick a conversation, or press “New chat”. Everything you send is encrypted in this browser first.</p>
          </div>
        ) : verifying ? (
          <Verify peer={selected} onClose={() => setVerifying(false)} />
        ) : (
          <Chat key={selected} peer={selected} onBack={() => select(null)} onVerify={() => setVerifying(true)} />
        )}
      </main>
    </div>
  );
}
