import { HushError, type PresenceQueryReply } from '@hush/protocol';
import type { Connection } from './connection.js';
import type { ConnectionContext } from './context.js';

/**
 * A `presence.sub` frame of a bound socket: rate-limited and capped per socket, answered with the
 * caller's view of each user, and followed live only for users who share presence with the caller
 * (presence is shared with contacts only; the others get the query's "never seen" answer and
 * nothing more).
 */
export async function followPresence(c: Connection, ctx: ConnectionContext, users: string[]): Promise<void> {
  const id = c.identity!;
  const wait = ctx.takePresenceToken(c.key!);
  if (wait > 0) return c.sendError(new HushError('GW_RATE_LIMITED', undefined, { retryAfter: wait }));
  const max = ctx.config.maxPresenceFollows;
  const more = users.filter((u) => !c.presenceUsers.has(u)).length;
  if (c.presenceUsers.size + more > max) {
    return c.sendError(new HushError('GW_TOO_MANY_SUBSCRIPTIONS', `A connection follows at most ${max} users`));
  }
  let result: PresenceQueryReply;
  try {
    result = await ctx.queryPresence({ userId: id.userId, deviceId: id.deviceId }, users);
  } catch (e) {
    c.sendError(e instanceof HushError ? e : new HushError('UPSTREAM_UNAVAILABLE'));
    return;
  }
  if (!c.isOpen) return; // closed while asking: nothing to follow
  const shared = new Set(Array.isArray(result.shared) ? result.shared : []);
  for (const entry of result.users) {
    if (shared.has(entry.userId)) {
      c.presenceUsers.add(entry.userId);
      ctx.follow(c, entry.userId);
    }
    c.sendPresence(entry);
  }
}
