import { useEffect, useState } from 'preact/hooks';
import { Auth } from './Auth.js';
import { Chat } from './Chat.js';
import { useActions, useAppState } from './hooks.js';
import { Unlock } from './Lock.js';
import { Sidebar } from './Sidebar.js';
import { Verify } from './Verify.js';

export function App() {
  const s = useAppState();
  const a = useActions();
  const [selected, setSelected] = useState<string | null>(null);
  const [verifying, setVerifying] = useState(false);

  useEffect(() => {
    a.openConversation(selected);
  }, [selected, a]);
  useEffect(() => {
    if (s.phase !== 'ready') setSelected(null);
  }, [s.phase]);

  if (s.phase === 'loading')
    return (
      <main class="placeholder" aria-busy="true">
        Opening your encrypted store…
      </main>
    );
  if (s.phase === 'locked') return <Unlock />;
  if (s.phase === 'signed-out') return <Auth />;

  const select = (peer: string | null) => {
    setVerifying(false);
    setSelected(peer);
  };
  return (
    <div class={`shell${selected ? ' in-chat' : ''}`}>
      <Sidebar selected={selected} onSelect={select} />
      <main class="chat-pane">
        {selected === null ? (
          <div class="placeholder">
            <p>Pick a conversation, or press “New chat”. Everything you send is encrypted in this browser first.</p>
          </div>
        ) : verifying ? (
          <Verify peer={selected} onClose={() => setVerifying(false)} />
        ) : (
          <Chat peer={selected} onBack={() => select(null)} onVerify={() => setVerifying(true)} />
        )}
      </main>
    </div>
  );
}
