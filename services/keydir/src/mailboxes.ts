import type { Subjects } from '@hush/protocol';
import { safeErr } from '@hush/service-kit';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

/**
 * Empties the JetStream mailbox of devices that left an account and deletes their durable
 * consumers, so nothing addressed to the old identity is ever delivered. A stream or consumer
 * that does not exist is fine (nothing to clean); other failures are logged, not thrown: the
 * directory change has already happened and must still be announced.
 */
export class MailboxCleaner {
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subj: Subjects,
    private readonly stream: string,
    private readonly log: Logger,
  ) {}

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= jetstreamManager(this.nc).catch((e: unknown) => {
      this.jsm = undefined;
      throw e;
    });
    return this.jsm;
  }

  async purge(userId: string, deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    let jsm: JetStreamManager;
    try {
      jsm = await this.manager();
    } catch (err) {
      this.log.warn({ err: safeErr(err) }, 'JetStream unavailable; mailboxes not purged');
      return;
    }
    for (const deviceId of deviceIds) {
      try {
        await jsm.streams.purge(this.stream, { filter: this.subj.mailbox(userId, deviceId) });
      } catch (err) {
        if (!isMissing(err)) this.log.warn({ err: safeErr(err), userId, deviceId }, 'mailbox purge failed');
      }
      try {
        await jsm.consumers.delete(this.stream, this.subj.consumerName(userId, deviceId));
      } catch (err) {
        if (!isMissing(err)) this.log.warn({ err: safeErr(err), userId, deviceId }, 'consumer delete failed');
      }
    }
  }
}

function isMissing(err: unknown): boolean {
  if (err instanceof JetStreamApiError) {
    return err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound;
  }
  return err instanceof Error && /not found/i.test(err.message);
}
