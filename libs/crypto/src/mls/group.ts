/**
 * One MLS group as seen by one device (one leaf), on ts-mls (RFC 9420).
 *
 * Pure: no I/O, no clock; randomness comes through the ciphersuite (suite.ts). State lives in this
 * object and is saved with `export()` / restored with `MlsGroup.import()`; the exported bytes hold
 * private keys, so callers store them encrypted at rest like every other session record.
 *
 * Commits are two-phase because the server orders them (RFC 9420 §14: a group must agree on one
 * commit per epoch): `proposeAdd`/`proposeRemove`/`proposeUpdate` build a commit without applying
 * it; the caller sends it, and only once the server accepted it as the next commit of this epoch
 * calls `applyPending`. If another member's commit won, the caller processes that one and builds
 * its change again on the new epoch (`PendingCommit` is then stale and refused).
 */
import {
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  joinGroup,
  type PrivateMessage,
  type Proposal,
  processPrivateMessage,
  zeroOutUint8Array,
} from 'ts-mls';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { equalBytes, toBase64 } from '../encoding.js';
import { CryptoError } from '../errors.js';
import {
  clientConfig,
  decodeMessage,
  type GroupEvent,
  type GroupMember,
  leafAt,
  type MlsDeps,
  memberOf,
  mls,
  type PendingCommit,
  rosterDiff,
  rosterOf,
} from './group-support.js';
import { decodeKeyPackage, generateKeyPackages, type LeafSigner, type LocalKeyPackage } from './key-packages.js';

/** The KeyPackageRefs a welcome is addressed to (RFC 9420 §12.4.3.1), base64, to find the local package. */
export function welcomeKeyPackageRefs(welcome: Uint8Array): string[] {
  const m = decodeMessage(welcome);
  if (m.wireformat !== 'mls_welcome') throw new CryptoError('E2E_BAD_MESSAGE', 'Not a welcome');
  return m.welcome.secrets.map((s) => toBase64(s.newMember));
}

export class MlsGroup {
  private constructor(
    private readonly deps: MlsDeps,
    private state: ClientState,
  ) {}

  /** A new group with this device as its only member (epoch 0). */
  static async create(deps: MlsDeps, signer: LeafSigner, groupId: Uint8Array): Promise<MlsGroup> {
    const [own] = await generateKeyPackages(deps.suite, signer, 1, deps.now);
    if (!own) throw new CryptoError('E2E_BAD_STATE');
    const state = await mls('create group', () =>
      createGroup(
        groupId,
        decodeKeyPackage(own.publicMessage),
        {
          initPrivateKey: own.initPrivateKey,
          hpkePrivateKey: own.hpkePrivateKey,
          signaturePrivateKey: signer.signaturePrivateKey,
        },
        [],
        deps.suite,
        clientConfig(deps),
      ),
    );
    return new MlsGroup(deps, state);
  }

  /**
   * Joins from a welcome with the local key package it names. Every leaf of the group's tree is
   * checked by the binding Authentication Service (ts-mls validates the whole tree on join).
   */
  static async join(deps: MlsDeps, signer: LeafSigner, kp: LocalKeyPackage, welcome: Uint8Array): Promise<MlsGroup> {
    const m = decodeMessage(welcome);
    if (m.wireformat !== 'mls_welcome') throw new CryptoError('E2E_BAD_MESSAGE', 'Not a welcome');
    const state = await mls('join group', () =>
      joinGroup(
        m.welcome,
        decodeKeyPackage(kp.publicMessage),
        {
          initPrivateKey: kp.initPrivateKey,
          hpkePrivateKey: kp.hpkePrivateKey,
          signaturePrivateKey: signer.signaturePrivateKey,
        },
        emptyPskIndex,
        deps.suite,
        undefined,
        undefined,
        clientConfig(deps),
      ),
    );
    return new MlsGroup(deps, state);
  }

  static import(deps: MlsDeps, bytes: Uint8Array): MlsGroup {
    let d: ReturnType<typeof decodeGroupState>;
    try {
      d = decodeGroupState(bytes, 0);
    } catch (e) {
      throw new CryptoError('E2E_BAD_STATE', 'Malformed group state', { cause: e });
    }
    if (d === undefined || d[1] !== bytes.length) throw new CryptoError('E2E_BAD_STATE', 'Malformed group state');
    return new MlsGroup(deps, { ...d[0], clientConfig: clientConfig(deps) });
  }

  /** The whole state (private keys included) for the caller's encrypted store. */
  export(): Uint8Array {
    return encodeGroupState(this.state);
  }

  get groupId(): Uint8Array {
    return this.state.groupContext.groupId;
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }

  /** False once this device was removed from the group. */
  get active(): boolean {
    return this.state.groupActiveState.kind === 'active';
  }

  members(): GroupMember[] {
    return rosterOf(this.state.ratchetTree);
  }

  self(): GroupMember {
    const i = this.state.privatePath.leafIndex;
    const leaf = leafAt(this.state.ratchetTree, i);
    if (!leaf) throw new CryptoError('E2E_BAD_STATE', 'Own leaf missing');
    return memberOf(leaf, i);
  }

  /** A commit adding one leaf per key package (each device is a leaf). */
  async proposeAdd(keyPackages: Uint8Array[]): Promise<PendingCommit> {
    const proposals: Proposal[] = keyPackages.map((b) => ({
      proposalType: 'add',
      add: { keyPackage: decodeKeyPackage(b) },
    }));
    return this.commit(proposals);
  }

  /** A commit removing every leaf of the given devices (a whole user when `deviceId` is omitted). */
  async proposeRemove(targets: { userId: string; deviceId?: string }[]): Promise<PendingCommit> {
    const me = this.self();
    const leaves = this.members().filter((m) =>
      targets.some((t) => t.userId === m.userId && (t.deviceId === undefined || t.deviceId === m.deviceId)),
    );
    if (leaves.length === 0) throw new CryptoError('E2E_GROUP_NOT_MEMBER', 'None of those devices is in the group');
    if (leaves.some((m) => m.leafIndex === me.leafIndex)) {
      // RFC 9420 §12.1.3: a member cannot remove itself by commit; leaving is a remove proposal
      // that another member commits.
      throw new CryptoError('E2E_GROUP_REJECTED', 'A device cannot commit its own removal');
    }
    return this.commit(leaves.map((m) => ({ proposalType: 'remove', remove: { removed: m.leafIndex } })));
  }

  /** An empty commit: a fresh path for this leaf (post-compromise security, RFC 9420 §12.4). */
  async proposeUpdate(): Promise<PendingCommit> {
    return this.commit([]);
  }

  private async commit(proposals: Proposal[]): Promise<PendingCommit> {
    if (!this.active) throw new CryptoError('E2E_GROUP_NOT_MEMBER', 'This device is no longer in the group');
    const before = this.members();
    const r = await mls('commit', () =>
      createCommit(
        { state: this.state, cipherSuite: this.deps.suite },
        { extraProposals: proposals, ratchetTreeExtension: true },
      ),
    );
    // `consumed` holds secrets of the current epoch: wiped only when the commit is applied, since a
    // refused commit leaves this epoch in use.
    const after = rosterOf(r.newState.ratchetTree);
    const diff = rosterDiff(before, after);
    return {
      epoch: this.epoch,
      commit: encodeMlsMessage(r.commit),
      welcome: r.welcome
        ? encodeMlsMessage({ wireformat: 'mls_welcome', version: 'mls10', welcome: r.welcome })
        : undefined,
      added: diff.added.map(({ userId, deviceId }) => ({ userId, deviceId })),
      removed: diff.removed.map(({ userId, deviceId }) => ({ userId, deviceId })),
      next: r.newState,
      consumed: r.consumed,
    };
  }

  /** Applies our own commit once the server accepted it as this epoch's commit. */
  applyPending(p: PendingCommit): void {
    if (p.epoch !== this.epoch) {
      throw new CryptoError('E2E_GROUP_WRONG_EPOCH', 'The group moved on; build the change again on the new epoch');
    }
    this.state = p.next;
    p.consumed.forEach(zeroOutUint8Array);
  }

  /** Encrypts an application message for the group (RFC 9420 §6.3). */
  async encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    if (!this.active) throw new CryptoError('E2E_GROUP_NOT_MEMBER', 'This device is no longer in the group');
    const r = await mls('encrypt', () => createApplicationMessage(this.state, plaintext, this.deps.suite));
    this.state = r.newState;
    r.consumed.forEach(zeroOutUint8Array);
    return encodeMlsMessage({ wireformat: 'mls_private_message', version: 'mls10', privateMessage: r.privateMessage });
  }

  /** Processes a message from the group: an application message or another member's commit. */
  async process(bytes: Uint8Array): Promise<GroupEvent> {
    const m = decodeMessage(bytes);
    if (m.wireformat !== 'mls_private_message') {
      // Everything members send is a PrivateMessage (commits too): PublicMessage would show the
      // roster changes to the server.
      throw new CryptoError('E2E_BAD_MESSAGE', 'Expected an MLS PrivateMessage');
    }
    const pm = m.privateMessage;
    if (!equalBytes(pm.groupId, this.groupId)) throw new CryptoError('E2E_BAD_MESSAGE', 'Message is for another group');
    if (!this.active) throw new CryptoError('E2E_GROUP_NOT_MEMBER', 'This device is no longer in the group');
    if (pm.contentType === 'application') return this.processApplication(pm);
    if (pm.contentType !== 'commit') throw new CryptoError('E2E_BAD_MESSAGE', 'Standalone proposals are not used');
    if (pm.epoch !== this.epoch) {
      throw new CryptoError('E2E_GROUP_WRONG_EPOCH', `Commit for epoch ${pm.epoch}, group is at ${this.epoch}`);
    }
    const before = this.members();
    let committerIndex: number | undefined;
    const r = await mls('process commit', () =>
      processPrivateMessage(this.state, pm, emptyPskIndex, this.deps.suite, (incoming) => {
        if (incoming.kind === 'commit') committerIndex = incoming.senderLeafIndex;
        return 'accept';
      }),
    );
    if (r.kind !== 'newState') throw new CryptoError('E2E_BAD_MESSAGE');
    r.consumed.forEach(zeroOutUint8Array);
    this.state = r.newState;
    const diff = rosterDiff(before, this.members());
    return {
      kind: 'commit',
      epoch: this.epoch,
      committer: before.find((x) => x.leafIndex === committerIndex),
      added: diff.added,
      removed: diff.removed,
      removedSelf: this.state.groupActiveState.kind === 'removedFromGroup',
    };
  }

  /**
   * Decrypts an application message, from this epoch or one of the last MLS_RETAIN_EPOCHS (a
   * member may have sent it before a commit reached it). ts-mls's processPrivateMessage does not
   * say who sent it, so this is its application branch with the sender kept; a message from an
   * older epoch is accepted only if its sender's leaf is still in the current tree, so a removed
   * member cannot keep posting with the keys of the epochs it still knows.
   */
  private async processApplication(pm: PrivateMessage): Promise<GroupEvent> {
    const s = this.state;
    const current = pm.epoch === s.groupContext.epoch;
    const rd = current
      ? {
          senderDataSecret: s.keySchedule.senderDataSecret,
          secretTree: s.secretTree,
          ratchetTree: s.ratchetTree,
          groupContext: s.groupContext,
        }
      : s.historicalReceiverData.get(pm.epoch);
    if (!rd) throw new CryptoError('E2E_GROUP_WRONG_EPOCH', `No keys for epoch ${pm.epoch}`);
    const r = await mls('decrypt', () =>
      unprotectPrivateMessage(
        rd.senderDataSecret,
        pm,
        rd.secretTree,
        rd.ratchetTree,
        rd.groupContext,
        s.clientConfig.keyRetentionConfig,
        this.deps.suite,
      ),
    );
    const c = r.content.content;
    if (c.contentType !== 'application' || c.sender.senderType !== 'member') throw new CryptoError('E2E_BAD_MESSAGE');
    const leaf = leafAt(rd.ratchetTree, c.sender.leafIndex);
    if (!leaf) throw new CryptoError('E2E_GROUP_NOT_MEMBER');
    if (!current) {
      const now = leafAt(s.ratchetTree, c.sender.leafIndex);
      if (!now || !equalBytes(now.signaturePublicKey, leaf.signaturePublicKey)) {
        throw new CryptoError('E2E_GROUP_NOT_MEMBER', 'The sender was removed from the group');
      }
    }
    const next = new Map(s.historicalReceiverData);
    if (!current) {
      const old = s.historicalReceiverData.get(pm.epoch);
      if (old) next.set(pm.epoch, { ...old, secretTree: r.tree });
    }
    this.state = current ? { ...s, secretTree: r.tree } : { ...s, historicalReceiverData: next };
    r.consumed.forEach(zeroOutUint8Array);
    return {
      kind: 'application',
      epoch: pm.epoch,
      sender: memberOf(leaf, c.sender.leafIndex),
      plaintext: c.applicationData,
    };
  }
}
