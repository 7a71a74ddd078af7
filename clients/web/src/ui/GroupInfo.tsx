import { useEffect, useRef, useState } from 'preact/hooks';
import { effectiveAdmins, encryptionStatus, type GroupRecord, groupStatusLabel } from '../engine/index.js';
import { splitNames, statusOf, useGroups, useGroupsView } from './Groups.js';
import { useAppState } from './hooks.js';

const PERSON_STATUS = { green: 'verified', yellow: 'not verified', red: 'cannot encrypt' } as const;

/**
 * Group info: the members (admins marked, each one's verification), "Add member" and "Remove" for
 * admins, "Leave group" for everyone. A member is verified from the 1:1 chat's safety number.
 */
export function GroupInfo({
  g,
  onClose,
  onOpenChat,
}: {
  g: GroupRecord;
  onClose: () => void;
  onOpenChat: (userId: string) => void;
}) {
  const s = useAppState();
  const v = useGroupsView();
  const groups = useGroups()!;
  const [adding, setAdding] = useState('');
  const [confirmLeave, setConfirmLeave] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
    groups.clearError();
  }, [groups]);

  const me = s.me?.userId ?? '';
  const admins = effectiveAdmins(g);
  const amAdmin = g.state === 'active' && admins.includes(me);
  const status = statusOf(s, g);
  const add = async (e: Event) => {
    e.preventDefault();
    if (await groups.addMembers(g.id, splitNames(adding))) setAdding('');
  };

  return (
    <section class="devices group-info" aria-labelledby="group-info-title">
      <button class="btn small" type="button" onClick={onClose}>
        Back to the group
      </button>
      <h2 id="group-info-title" tabIndex={-1} ref={heading}>
        {g.name || 'New group'}
      </h2>
      <p class={`state ${status}`} data-testid="group-info-status">
        <span aria-hidden="true">● </span>
        {groupStatusLabel(status)}.{' '}
        {status === 'yellow' &&
          'Compare safety numbers with each member (open their chat, then the badge) to turn it green.'}
      </p>
      {v.error && (
        <p class="notice" role="alert">
          {v.error}
        </p>
      )}
      <h3>
        {g.people.length} {g.people.length === 1 ? 'member' : 'members'}
      </h3>
      <ul class="device-list" aria-busy={v.busy}>
        {g.people.map((p) => {
          const c = s.conversations.find((x) => x.peer === p.userId);
          const st = c ? encryptionStatus(c) : 'yellow';
          const self = p.userId === me;
          return (
            <li key={p.userId} data-testid="member-row" data-member={p.username}>
              <div>
                <strong class="name">{self ? `${p.username} (you)` : p.username}</strong>
                {admins.includes(p.userId) && <span class="tag">Admin</span>}
                {g.leaving.includes(p.userId) && <span class="tag warn">Leaving</span>}
              </div>
              <div class="meta">
                {p.devices} {p.devices === 1 ? 'device' : 'devices'}
                {!self && (
                  <>
                    {' · '}
                    <span class={`state ${st}`}>{PERSON_STATUS[st]}</span>
                  </>
                )}
              </div>
              <div class="row">
                {!self && (
                  <button class="btn small" type="button" onClick={() => onOpenChat(p.userId)}>
                    Open chat
                  </button>
                )}
                {amAdmin && !self && (
                  <button
                    class="btn small danger"
                    type="button"
                    disabled={v.busy}
                    aria-label={`Remove ${p.username}`}
                    onClick={() => void groups.removeMember(g.id, p.userId)}
                  >
                    Remove member
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      {amAdmin && (
        <form class="add-member" onSubmit={add}>
          <div class="field">
            <label for="add-member">Add member (username)</label>
            <input
              id="add-member"
              required
              autocapitalize="none"
              spellcheck={false}
              value={adding}
              onInput={(e) => setAdding(e.currentTarget.value)}
            />
          </div>
          <button class="btn primary" type="submit" disabled={v.busy}>
            Add member
          </button>
        </form>
      )}
      {!amAdmin && g.state === 'active' && <p class="hint">Only admins add and remove members.</p>}
      {g.state === 'active' &&
        (confirmLeave ? (
          <div class="row" role="alert">
            <p>Leave “{g.name}”? This device deletes the group’s keys and cannot read it again.</p>
            <button class="btn small danger" type="button" onClick={() => void groups.leave(g.id)}>
              Leave
            </button>
            <button class="btn small" type="button" onClick={() => setConfirmLeave(false)}>
              Cancel
            </button>
          </div>
        ) : (
          <button class="btn danger leave" type="button" onClick={() => setConfirmLeave(true)}>
            Leave group
          </button>
        ))}
    </section>
  );
}
