import type { ChatMessage } from '../core/model.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { Thread } from './message-ops.js';

/** A 1:1 conversation as a Thread (engine/message-ops.ts); our controls go out through `queue`. */
export function directThread(
  ctx: EngineContext,
  history: History,
  peer: string,
  queue: (m: ChatMessage) => Promise<void>,
): Thread {
  return {
    conv: peer,
    messages: () => history.messages(peer),
    put: (m) => history.putMessage(m),
    remove: (id) => history.removeMessage(peer, id),
    timer: () => history.conv(peer)?.timer,
    saveTimer: async (timer) => {
      const c = history.conv(peer);
      if (c) await history.saveConv({ ...c, timer });
    },
    savePreview: async (lastText) => {
      const c = history.conv(peer);
      if (c && c.lastText !== lastText) await history.saveConv({ ...c, lastText });
    },
    username: async (userId) =>
      userId === ctx.state.me?.userId ? ctx.state.me.username : (history.conv(userId)?.username ?? userId),
    nextOrder: () => history.nextOrder(),
    send: queue,
  };
}
