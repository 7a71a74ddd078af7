import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { natsMsgId, PurgeBody, PurgeResult, type StoredEnvelope, type Subjects } from '@hush/protocol';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { FastifyInstance } from 'fastify';
import { bearerAuth, type RouteDeps } from './routes.js';
import { ErrorBody } from './schemas.js';

/**
 * A mailbox is scanned this far for the envelope (oldest first). A device's mailbox holds at most
 * `MAILBOX_MAX_PER_DEVICE` envelopes; past this many the envelope is left to the mailbox's age
 * limit, so one request never costs the broker more than this per mailbox.
 */
export const PURGE_SCAN_MAX = 1024;

export interface PurgeDeps {
  s: Subjects;
  verifier: RouteDeps['verifier'];
  checkDevice: RouteDeps['checkDevice'];
  jsm: JetStreamManager;
  mailboxStream: string;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 503: ErrorBody };

/**
 * POST /v1/messages/purge (docs/PROTOCOL-WIRE.md §11; libs/crypto/PROTOCOL.md §13.4): nats-server
 * 2.9 has no per-message TTL, so a disappearing message's undelivered envelopes are deleted when
 * its sender's copy expires. The request names the message and the mailboxes it went to (the
 * sender keeps its send frame); an envelope is deleted only if its Nats-Msg-Id says the calling
 * device sent it (the id is scoped by sender device: libs/protocol natsMsgId), so nobody can
 * delete another's message. Deleted with erase (overwritten on disk). Idempotent.
 */
export async function purgeRoutes(app: FastifyInstance, d: PurgeDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/v1/messages/purge',
    {
      schema: {
        tags: ['messages'],
        security: [{ bearer: [] }],
        body: PurgeBody,
        response: { 200: PurgeResult, ...errors },
      },
      preHandler: bearerAuth(d),
    },
    async (req) => {
      const from = { user: req.identity!.userId, device: req.identity!.deviceId };
      let purged = 0;
      const seen = new Set<string>();
      for (const to of req.body.to) {
        const subject = d.s.mailbox(to.user, to.device);
        if (seen.has(subject)) continue;
        seen.add(subject);
        if (await purgeOne(d, subject, natsMsgId(req.body.id, to, from), req.body.id, from)) purged++;
      }
      return { purged };
    },
  );
}

async function purgeOne(
  d: PurgeDeps,
  subject: string,
  msgId: string,
  id: string,
  from: { user: string; device: string },
): Promise<boolean> {
  let seq = 0;
  for (let i = 0; i < PURGE_SCAN_MAX; i++) {
    // `next_by_subj` is a server field the nats.js types do not list (as in ws/mailbox.ts).
    const query = { seq, next_by_subj: subject } as unknown as { seq: number };
    const m = await d.jsm.streams.getMessage(d.mailboxStream, query);
    if (!m) return false;
    const env = m.json<StoredEnvelope>();
    if (
      m.header?.get('Nats-Msg-Id') === msgId &&
      env.id === id &&
      env.from.user === from.user &&
      env.from.device === from.device
    ) {
      // Acked meanwhile (work-queue retention) is fine: it is gone either way.
      return d.jsm.streams.deleteMessage(d.mailboxStream, m.seq, true).catch(() => false);
    }
    seq = m.seq + 1;
  }
  return false;
}
