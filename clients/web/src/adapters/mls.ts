import {
  type CryptoError,
  createLeafSigner,
  createPrimitives,
  defaultRandomBytes,
  fromBase64,
  fromHex,
  generateKeyPackages,
  isCryptoError,
  type LeafIdentity,
  type LeafSigner,
  type LocalKeyPackage,
  type MlsDeps,
  MlsGroup,
  mlsSuite,
  type PendingCommit,
  type Primitives,
  toBase64,
  toHex,
  welcomeKeyPackageRefs,
} from '@hush/crypto';
import type { GroupRecord } from '../core/groups.js';
import type { GroupCryptoPort, GroupIncoming, GroupLeaf, LearnKeys, PendingChange } from '../engine/group-ports.js';
import { VaultCryptoStore } from '../store/crypto-store.js';
import type { Vault } from '../store/vault.js';

/** Record names (ids only). `mls:*` hold private keys; all are AES-GCM sealed by the vault. */
const K = {
  signer: 'mls:signer',
  kp: (ref: string) => `mls:kp:${ref}`,
  kpPrefix: 'mls:kp:',
  state: (groupId: string) => `mls:state:${groupId}`,
  group: (groupId: string) => `grp:${groupId}`,
  groupPrefix: 'grp:',
};

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * GroupCryptoPort over @hush/crypto's MlsGroup (ts-mls), with the leaf signer, unused key packages
 * and each group's exported state in the vault, encrypted at rest like ratchet sessions.
 *
 * The leaf check (PROTOCOL.md §9.2's MemberCheck) compares a leaf's binding with what the protocol
 * store already trusts: the account's identity key (trust on first use or verified; a changed key
 * the user has not accepted is not in the store, so its leaves are refused) and its newest signed
 * device list. When either is unknown it asks the engine to fetch that account's keys once, then
 * checks again. Deciding whom to trust stays with the engine's trust policy.
 */
export function createMlsPort(getVault: () => Vault): GroupCryptoPort {
  const prims: Promise<Primitives> = createPrimitives();
  const suite = mlsSuite(defaultRandomBytes);
  /** Our own commits waiting for the gateway's answer, by group. */
  const pending = new Map<string, { group: MlsGroup; commit: PendingCommit }>();

  const vault = () => getVault();
  const store = () => new VaultCryptoStore(vault());

  const signer = async (): Promise<LeafSigner> => {
    const s = await vault().get<LeafSigner>(K.signer);
    if (!s) throw new Error('no MLS leaf signer on this device');
    return s;
  };

  /** The leaf check for one operation: unknown accounts are learned once each, then checked again. */
  const deps = async (learn: LearnKeys | null): Promise<MlsDeps> => {
    const learned = new Set<string>();
    const st = store();
    const trusted = async (leaf: LeafIdentity): Promise<boolean> => {
      const local = await st.getLocalDevice();
      const identity =
        local?.userId === leaf.userId
          ? (await st.getIdentity())?.publicKey
          : (await st.getPeerIdentity(leaf.userId))?.identityKey;
      const list = await st.getPeerDeviceList(leaf.userId);
      const listed =
        list?.devices.includes(leaf.deviceId) || (local?.userId === leaf.userId && local.deviceId === leaf.deviceId);
      return identity !== undefined && same(identity, leaf.identityKey) && listed === true;
    };
    return {
      prims: await prims,
      suite: await suite,
      now: Date.now,
      check: async (leaf) => {
        if (await trusted(leaf)) return true;
        if (!learn || learned.has(leaf.userId)) return false;
        learned.add(leaf.userId);
        await learn(leaf.userId);
        return trusted(leaf);
      },
    };
  };

  const load = async (groupId: string, learn: LearnKeys | null): Promise<MlsGroup | null> => {
    const bytes = await vault().get<Uint8Array>(K.state(groupId));
    return bytes ? MlsGroup.import(await deps(learn), bytes) : null;
  };
  const need = async (groupId: string, learn: LearnKeys | null): Promise<MlsGroup> => {
    const g = await load(groupId, learn);
    if (!g) throw new Error('no state for this group on this device');
    return g;
  };
  const save = (groupId: string, g: MlsGroup) => vault().put(K.state(groupId), g.export());

  const leafOf = (m: { userId: string; deviceId: string; identityKey: Uint8Array }): GroupLeaf => ({
    userId: m.userId,
    deviceId: m.deviceId,
    identityKey: toBase64(m.identityKey),
  });
  const change = (groupId: string, group: MlsGroup, commit: PendingCommit): PendingChange => {
    pending.set(groupId, { group, commit });
    return {
      epoch: Number(commit.epoch),
      commit: toBase64(commit.commit),
      ...(commit.welcome ? { welcome: toBase64(commit.welcome) } : {}),
      added: commit.added.map((d) => ({ user: d.userId, device: d.deviceId })),
      removed: commit.removed.map((d) => ({ user: d.userId, device: d.deviceId })),
    };
  };
  const refusal = (e: CryptoError): GroupIncoming => ({
    kind: 'refused',
    reason:
      e.code === 'E2E_GROUP_NOT_MEMBER'
        ? 'not-member'
        : e.code === 'E2E_GROUP_WRONG_EPOCH'
          ? 'wrong-epoch'
          : 'rejected',
    detail: e.message,
  });

  return {
    async prepareDevice(userId, deviceId) {
      const have = await vault().get<LeafSigner>(K.signer);
      if (have && have.userId === userId && have.deviceId === deviceId) return;
      const identity = await store().getIdentity();
      if (!identity) throw new Error('no identity on this device');
      // A new device id (renewed session) gets a new leaf key: its binding names the device.
      for (const k of await vault().keys(K.kpPrefix)) await vault().delete(k);
      await vault().put(K.signer, await createLeafSigner(await prims, await suite, identity, userId, deviceId));
    },

    async makeKeyPackages(count, lastResort) {
      const s = await signer();
      const one = await generateKeyPackages(await suite, s, count, Date.now);
      const last = lastResort ? await generateKeyPackages(await suite, s, 1, Date.now, { lastResort: true }) : [];
      for (const k of [...one, ...last]) await vault().put(K.kp(k.ref), k);
      const pub = (k: LocalKeyPackage) => ({ ref: k.ref, body: toBase64(k.publicMessage) });
      return { keyPackages: one.map(pub), ...(last[0] ? { lastResort: pub(last[0]) } : {}) };
    },

    async create(groupId) {
      const g = await MlsGroup.create(await deps(null), await signer(), fromHex(groupId));
      await save(groupId, g);
    },

    async proposeAdd(groupId, keyPackages, learn) {
      const g = await need(groupId, learn);
      return change(groupId, g, await g.proposeAdd(keyPackages.map(fromBase64)));
    },

    async proposeRemove(groupId, targets) {
      const g = await need(groupId, null);
      return change(groupId, g, await g.proposeRemove(targets));
    },

    async applyPending(groupId) {
      const p = pending.get(groupId);
      if (!p) throw new Error('no pending commit for this group');
      pending.delete(groupId);
      p.group.applyPending(p.commit);
      await save(groupId, p.group);
    },

    dropPending(groupId) {
      pending.delete(groupId);
    },

    async join(welcome, learn) {
      const bytes = fromBase64(welcome);
      let kp: LocalKeyPackage | undefined;
      for (const ref of welcomeKeyPackageRefs(bytes)) {
        kp = await vault().get<LocalKeyPackage>(K.kp(ref));
        if (kp) break;
      }
      if (!kp) return null;
      const g = await MlsGroup.join(await deps(learn), await signer(), kp, bytes);
      const groupId = toHex(g.groupId);
      await save(groupId, g);
      // Used once (RFC 9420 §16.8), except the last-resort package.
      if (!kp.lastResort) await vault().delete(K.kp(kp.ref));
      return { groupId };
    },

    async encrypt(groupId, plaintext) {
      const g = await need(groupId, null);
      const ct = await g.encrypt(plaintext);
      await save(groupId, g);
      return toBase64(ct);
    },

    async process(groupId, body, learn) {
      const g = await load(groupId, learn);
      if (!g) return { kind: 'refused', reason: 'rejected', detail: 'no state for this group' };
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(body);
      } catch {
        return { kind: 'refused', reason: 'rejected', detail: 'not base64' };
      }
      try {
        const ev = await g.process(bytes);
        await save(groupId, g);
        if (ev.kind === 'application')
          return {
            kind: 'application',
            sender: { userId: ev.sender.userId, deviceId: ev.sender.deviceId },
            plaintext: ev.plaintext,
          };
        return {
          kind: 'commit',
          committer: ev.committer ? { userId: ev.committer.userId, deviceId: ev.committer.deviceId } : null,
          added: ev.added.map(leafOf),
          removed: ev.removed.map(leafOf),
          removedSelf: ev.removedSelf,
        };
      } catch (e) {
        // Anything that is not a protocol refusal (IndexedDB, quota) is a local failure: rethrown.
        if (isCryptoError(e)) return refusal(e);
        throw e;
      }
    },

    async members(groupId) {
      const g = await load(groupId, null);
      return g ? g.members().map(leafOf) : null;
    },

    async ownDevices(userId) {
      return (await store().getPeerDeviceList(userId))?.devices ?? null;
    },

    async forget(groupId) {
      pending.delete(groupId);
      await vault().delete(K.state(groupId));
    },

    groups: () => vault().list<GroupRecord>(K.groupPrefix),
    putGroup: (g) => vault().put(K.group(g.id), g),
  };
}
