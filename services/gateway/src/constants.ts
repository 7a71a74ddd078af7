/**
 * Gateway limits, each with its reason. Wire-level limits shared with clients (frame size,
 * envelopes per send, hello timeout) live in @hush/protocol's ws.ts; these are the gateway's own.
 */
import { MAX_FRAME_BYTES } from '@hush/protocol';

/** How long a NATS request to auth/keydir/presence may take before we answer UPSTREAM_UNAVAILABLE. */
export const UPSTREAM_TIMEOUT_MS = 5_000;
/** /readyz probes must be quick: a load balancer polls them. */
export const READY_PROBE_TIMEOUT_MS = 1_000;
/**
 * A whole HTTP request must arrive within this (Node's requestTimeout; 408 after it): a client that
 * trickles a body byte by byte would otherwise hold a socket and a parser forever. 256 KiB at a
 * slow 64 kbit/s takes ~33 s; the largest real body (~40 KiB) needs a fraction of it.
 */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** A connection with no traffic at all for this long is closed (Node's server.timeout). */
export const HTTP_IDLE_TIMEOUT_MS = 60_000;
/** HTTP bodies: the largest is PUT /v1/keys with 200 one-time prekeys (~40 KiB); 256 KiB leaves room. */
export const HTTP_BODY_LIMIT = 256 * 1024;
/**
 * The ws library closes a socket with 1009 for frames above maxPayload before we see them. We set it
 * above MAX_FRAME_BYTES so frames just over the limit get a GW_FRAME_TOO_LARGE error frame and the
 * socket lives; only absurdly large frames (> this) cost the client its socket.
 */
export const WS_MAX_PAYLOAD = MAX_FRAME_BYTES + 64 * 1024;
/** WS ping interval; a socket that misses two pongs in a row is closed with 4001. */
export const HEARTBEAT_INTERVAL_MS = 20_000;
/**
 * Pause pulling from JetStream while this many bytes wait in the socket's send buffer: a slow reader
 * must not make the gateway hold its whole backlog in memory (the backlog waits in the mailbox).
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Messages pulled per request from a device's consumer (the gateway-side buffer). */
export const PULL_BATCH = 64;
/** Unacked deliveries per device (JetStream max_ack_pending): the in-flight window on the socket. */
export const MAX_ACK_PENDING = 1_000;
/** A delivery the client did not ack in this time is redelivered (at-least-once). */
export const ACK_WAIT_MS = 30_000;
/** Recipient device lists are cached this long (and dropped early on keys.changed). */
export const DEVICE_CACHE_MS = 5_000;
/** Revoked (user, device) pairs are remembered as long as an access token can live. */
export const REVOKED_MEMORY_MS = 15 * 60_000;
/** At most one JWKS refetch per this interval when a token names an unknown kid. */
export const JWKS_REFETCH_MIN_MS = 2_000;
/** JetStream dedupe window: a client retrying a send with the same id within it is stored once. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** How long graceful shutdown waits for sockets to close before draining NATS anyway. */
export const SHUTDOWN_GRACE_MS = 5_000;

/** Lifetime of one mailbox pull request; see LazyMailbox.activate for why it is short. */
export const PULL_EXPIRES_MS = 5_000;
/**
 * A device's mailbox drops its JetStream consumer after this long with nothing delivered or acked
 * and nothing outstanding, and goes back to a core NATS subscription (ws/mailbox.ts). Long enough
 * that a conversation keeps its consumer between messages (creating one costs two JetStream API
 * calls), short enough that an idle device costs a subscription, not a consumer (docs/SCALING.md).
 */
export const MAILBOX_IDLE_MS = 15_000;
/**
 * An idle mailbox looks for a stored envelope once more this long after it subscribed: route
 * interest in a NATS cluster lags our own server's confirmation (ws/mailbox.ts recheckLater).
 */
export const MAILBOX_RECHECK_MS = 2_000;
/**
 * JetStream calls of one mailbox that may fail in a row (each retried after MAILBOX_RECHECK_MS)
 * before its socket is closed with 4003: a broker election takes a few seconds, and closing every
 * socket on it would make all clients reconnect at once.
 */
export const MAILBOX_MAX_FAILURES = 5;
/**
 * The server removes a mailbox consumer nobody pulled from for this long (inactive_threshold): one
 * left behind by a gateway that died. A live consumer pulls every PULL_EXPIRES_MS; a socket stalled
 * by a slow reader longer than this loses its consumer and is closed with 4003 (it reconnects and
 * gets everything unacked again).
 */
export const STALE_CONSUMER_MS = 5 * 60_000;

/**
 * Bytes of frames a socket may have waiting to be handled (they run one at a time, in order), each
 * frame counted at least QUEUED_FRAME_OVERHEAD. Past this the gateway stops reading the socket
 * until half is handled: TCP pushes back on the client, and a flooding client costs at most this
 * plus what was already read (one frame of up to WS_MAX_PAYLOAD, one socket read) instead of an
 * ever longer queue.
 */
export const MAX_QUEUED_BYTES = 1024 * 1024;
export const QUEUED_FRAME_OVERHEAD = 256;
/** presence.sub frames per device: refill rate (per second) and burst (each one queries presence). */
export const PRESENCE_SUB_RATE = 1;
export const PRESENCE_SUB_BURST = 10;
/** Users whose presence one socket may follow by default (a contact list, not the user base). */
export const MAX_PRESENCE_FOLLOWS = 1_000;
