/** Types and helpers of MlsGroup (group.ts): its public shapes, ts-mls configuration, roster reading. */
import {
  type CiphersuiteImpl,
  type ClientConfig,
  type ClientState,
  decodeMlsMessage,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  type LeafNode,
} from 'ts-mls';
import { leafToNodeIndex, toLeafIndex } from 'ts-mls/treemath.js';
import { CryptoError } from '../errors.js';
import type { Now, Primitives } from '../primitives/types.js';
import { bindingAuthService, decodeLeafBinding, type LeafIdentity, type MemberCheck } from './binding.js';

/** What every group operation needs: primitives for the binding, the suite, and the caller's trust check. */
export interface MlsDeps {
  prims: Primitives;
  suite: CiphersuiteImpl;
  check: MemberCheck;
  now: Now;
}

export interface GroupMember extends LeafIdentity {
  leafIndex: number;
}

/** A device, as addressed by add/remove and by the server's routing list. */
export interface DeviceRef {
  userId: string;
  deviceId: string;
}

export interface PendingCommit {
  /** The epoch this commit was built on; the server accepts it only as that epoch's commit. */
  readonly epoch: bigint;
  /** MLSMessage (PrivateMessage) for every current member device. */
  readonly commit: Uint8Array;
  /** MLSMessage (Welcome) for the added devices, if any. */
  readonly welcome: Uint8Array | undefined;
  readonly added: DeviceRef[];
  readonly removed: DeviceRef[];
  /** @internal the state after the commit; applied by `applyPending`. */
  readonly next: ClientState;
  /** @internal secrets to wipe once applied. */
  readonly consumed: Uint8Array[];
}

export type GroupEvent =
  | { kind: 'application'; epoch: bigint; sender: GroupMember; plaintext: Uint8Array }
  | {
      kind: 'commit';
      epoch: bigint;
      committer: GroupMember | undefined;
      added: GroupMember[];
      removed: GroupMember[];
      /** This device was removed: the group is over for it; it can neither read nor send. */
      removedSelf: boolean;
    };

/** How many past epochs' receive keys to keep for late application messages (RFC 9420 §14). */
export const MLS_RETAIN_EPOCHS = 4;

export function clientConfig(deps: MlsDeps): ClientConfig {
  return {
    keyRetentionConfig: { ...defaultKeyRetentionConfig, retainKeysForEpochs: MLS_RETAIN_EPOCHS },
    lifetimeConfig: defaultLifetimeConfig,
    keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
    paddingConfig: defaultPaddingConfig,
    authService: bindingAuthService(deps.prims, deps.check),
  };
}

export function leafAt(tree: ClientState['ratchetTree'], leafIndex: number): LeafNode | undefined {
  const n = tree[leafToNodeIndex(toLeafIndex(leafIndex))];
  return n?.nodeType === 'leaf' ? n.leaf : undefined;
}

export function memberOf(leaf: LeafNode, leafIndex: number): GroupMember {
  const b = decodeLeafBinding(leaf.credential);
  return { userId: b.userId, deviceId: b.deviceId, identityKey: b.identityKey, leafIndex };
}

export function rosterOf(tree: ClientState['ratchetTree']): GroupMember[] {
  const out: GroupMember[] = [];
  for (let i = 0; 2 * i < tree.length; i++) {
    const leaf = leafAt(tree, i);
    if (leaf) out.push(memberOf(leaf, i));
  }
  return out;
}

export const key = (m: DeviceRef & { leafIndex?: number }) => `${m.userId}/${m.deviceId}/${m.leafIndex ?? ''}`;

/** Wraps ts-mls errors (MlsError subclasses, plain Errors) in our one error type. */
export async function mls<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError('E2E_GROUP_REJECTED', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

export function decodeMessage(bytes: Uint8Array) {
  let d: ReturnType<typeof decodeMlsMessage>;
  try {
    d = decodeMlsMessage(bytes, 0);
  } catch (e) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'Malformed MLS message', { cause: e });
  }
  if (d === undefined || d[1] !== bytes.length) throw new CryptoError('E2E_BAD_MESSAGE', 'Malformed MLS message');
  return d[0];
}

/** Members in `after` and not in `before`, and the other way round. */
export function rosterDiff(before: GroupMember[], after: GroupMember[]) {
  const b = new Set(before.map(key));
  const a = new Set(after.map(key));
  return { added: after.filter((m) => !b.has(key(m))), removed: before.filter((m) => !a.has(key(m))) };
}
