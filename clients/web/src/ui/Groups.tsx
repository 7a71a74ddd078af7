import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import {
  type AppState,
  type EncryptionStatus,
  encryptionStatus,
  formatTime,
  type GroupRecord,
  type Groups,
  type GroupsView,
  groupStatus,
  MAX_GROUP_NAME_CHARS,
} from '../engine/index.js';
import { useAppState, useNow } from './hooks.js';

export const GroupsContext = createContext<Groups | null>(null);

const EMPTY: GroupsView = { groups: [], messages: {}, typing: {}, busy: false, error: null };

/** The groups' view (engine/groups.ts), re-rendered on every change. */
export function useGroupsView(): GroupsView {
  const groups = useContext(GroupsContext);
  const [v, set] = useState(groups?.view ?? EMPTY);
  useEffect(() => {
    if (!groups) return;
    const off = groups.subscribe(() => set(groups.view));
    set(groups.view);
    return off;
  }, [groups]);
  return v;
}
export function useGroups(): Groups | null {
  return useContext(GroupsContext);
}

/** A member's 1:1 status decides the group's colour: green only when every other member is verified. */
export function statusOf(s: AppState, g: GroupRecord): EncryptionStatus {
  const person = (userId: string): EncryptionStatus => {
    const c = s.conversations.find((x) => x.peer === userId);
    return c ? encryptionStatus(c) : 'yellow';
  };
  return groupStatus(g, s.me?.userId ?? '', person, g.state === 'active');
}
export const GROUP_STATUS_WORD = { green: 'all verified', yellow: 'not all verified', red: 'cannot encrypt' } as const;

/** "Groups" in the sidebar: "New group" and one row per group. Selecting uses the `g:<id>` key. */
export function GroupList({ selected, onSelect }: { selected: string | null; onSelect: (key: string) => void }) {
  const s = useAppState();
  const v = useGroupsView();
  const now = useNow();
  if (!useGroups()) return null;
  return (
    <section class="group-list" aria-labelledby="groups-title">
      <div class="group-list-head">
        <h2 id="groups-title">Groups</h2>
        <button class="btn small" type="button" aria-pressed={selected === 'g:new'} onClick={() => onSelect('g:new')}>
          New group
        </button>
      </div>
      {v.groups.length === 0 ? (
        <p class="empty">No groups yet.</p>
      ) : (
        <ul class="convs">
          {v.groups.map((g) => {
            const st = statusOf(s, g);
            return (
              <li key={g.id}>
                <button
                  type="button"
                  aria-current={selected === `g:${g.id}` ? 'true' : undefined}
                  data-group={g.name}
                  onClick={() => onSelect(`g:${g.id}`)}
                >
                  <span class="name">
                    {g.name || 'New group'}
                    <span class={`state ${st}`} data-status={st}>
                      <span aria-hidden="true">● </span>
                      <span class="sr-only">, </span>
                      {GROUP_STATUS_WORD[st]}
                    </span>
                  </span>
                  <span class="time">{g.lastText ? formatTime(g.lastAt, now) : ''}</span>
                  <span class="last">
                    {g.state === 'removed'
                      ? 'You were removed'
                      : g.state === 'left'
                        ? 'You left'
                        : g.lastText || `${g.people.length} people`}
                  </span>
                  {g.unread > 0 ? (
                    <span class="unread" data-testid="group-unread">
                      {g.unread}
                      <span class="sr-only"> unread</span>
                    </span>
                  ) : (
                    <span />
                  )}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

const splitNames = (text: string) =>
  text
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/** "New group": a name and the people to add by username (one commit adds all their devices). */
export function NewGroup({ onCreated, onCancel }: { onCreated: (groupId: string) => void; onCancel: () => void }) {
  const groups = useGroups();
  const v = useGroupsView();
  const [name, setName] = useState('');
  const [people, setPeople] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
    groups?.clearError();
  }, [groups]);
  if (!groups) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const id = await groups.create(name, splitNames(people));
    if (id) onCreated(id);
  };
  return (
    <section class="group-form" aria-labelledby="newgroup-title">
      <button class="btn small" type="button" onClick={onCancel}>
        Back to chats
      </button>
      <h2 id="newgroup-title" tabIndex={-1} ref={heading}>
        New group
      </h2>
      <p>
        Everyone in the group gets every message, encrypted once in this browser with MLS. The server learns which
        devices to deliver to, never the group’s name or what is said.
      </p>
      <form onSubmit={submit}>
        <div class="field">
          <label for="group-name">Group name</label>
          <input
            id="group-name"
            required
            maxLength={MAX_GROUP_NAME_CHARS}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="group-people">Members’ usernames</label>
          <input
            id="group-people"
            required
            autocapitalize="none"
            spellcheck={false}
            aria-describedby="group-people-hint"
            value={people}
            onInput={(e) => setPeople(e.currentTarget.value)}
          />
          <p id="group-people-hint" class="hint">
            Separate usernames with spaces or commas. You are the group’s admin.
          </p>
        </div>
        {v.error && (
          <p class="notice" role="alert">
            {v.error}
          </p>
        )}
        <button class="btn primary" type="submit" disabled={v.busy}>
          {v.busy ? 'Creating…' : 'Create group'}
        </button>
      </form>
    </section>
  );
}

export { splitNames };
