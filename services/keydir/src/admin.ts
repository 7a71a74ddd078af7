import type { Subjects } from '@hush/protocol';
import { addJsonEndpoint } from '@hush/service-kit';
import type { Service } from '@nats-io/services';
import { Type as T } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MailboxCleaner } from './mailboxes.js';
import type { redisKeys } from './store.js';

/**
 * Operator commands on `admin.keydir.*` (only the NATS `admin` role may publish there).
 * `delete`: an account's public keys, device list, prekeys and every device's mailbox go, after
 * auth deleted the account (the admin CLI calls both).
 */
export function addKeydirAdmin(
  svc: Service,
  d: { redis: Redis; log: Logger; subj: Subjects; keys: ReturnType<typeof redisKeys>; mailboxes: MailboxCleaner },
): void {
  addJsonEndpoint(svc, d.log, {
    name: 'admin-delete',
    subject: `${d.subj.prefix}admin.keydir.delete`,
    schema: T.Object({
      userId: T.String({ minLength: 1, maxLength: 64 }),
      deviceIds: T.Array(T.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 }),
    }),
    handler: async (req) => {
      const { keys, redis } = d;
      const published = await redis.smembers(keys.devices(req.userId));
      const all = [...new Set([...published, ...req.deviceIds])];
      await redis.del(
        keys.identity(req.userId),
        keys.deviceList(req.userId),
        keys.devices(req.userId),
        ...all.flatMap((id) => [keys.device(req.userId, id), keys.prekeys(req.userId, id)]),
      );
      await d.mailboxes.purge(req.userId, all);
      d.log.warn({ userId: req.userId, devices: all.length }, 'keys and mailboxes deleted by an operator');
      return { userId: req.userId, devices: all.length };
    },
  });
}
