import type { DeliverFrame } from '@hush/protocol';

export interface Address {
  user: string;
  device: string;
}

/** The gateway's POST /v1/messages/purge on the fake hub's mailboxes: only the caller's envelopes of `id`. */
export function purge(
  mailboxes: Map<string, DeliverFrame[]>,
  caller: { userId: string; deviceId: string },
  id: string,
  to: Address[],
): number {
  const mine = (f: DeliverFrame) => f.id === id && f.from.user === caller.userId && f.from.device === caller.deviceId;
  let purged = 0;
  for (const k of new Set(to.map((t) => `${t.user}.${t.device}`))) {
    const list = mailboxes.get(k) ?? [];
    purged += list.filter(mine).length;
    mailboxes.set(
      k,
      list.filter((f) => !mine(f)),
    );
  }
  return purged;
}
