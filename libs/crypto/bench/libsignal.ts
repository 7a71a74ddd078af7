/** The same operations with Signal's native library (@signalapp/libsignal-client, Node only). */
import * as S from '@signalapp/libsignal-client';
import type { BenchOp } from './ours.js';

type B = Uint8Array<ArrayBuffer>;
const MESSAGE = new Uint8Array(200).fill(0x61) as B;

class Stores {
  readonly identity = S.IdentityKeyPair.generate();
  readonly regId = (globalThis.crypto.getRandomValues(new Uint16Array(1))[0]! % 16000) + 1;
  readonly sessions = new Map<string, S.SessionRecord>();
  readonly identities = new Map<string, S.PublicKey>();
  readonly prekeys = new Map<number, S.PreKeyRecord>();
  readonly signed = new Map<number, S.SignedPreKeyRecord>();
  readonly kyber = new Map<number, S.KyberPreKeyRecord>();
  readonly sessionStore: S.SessionStore;
  readonly identityStore: S.IdentityKeyStore;
  readonly preKeyStore: S.PreKeyStore;
  readonly signedStore: S.SignedPreKeyStore;
  readonly kyberStore: S.KyberPreKeyStore;
  constructor() {
    const self = this;
    const key = (a: S.ProtocolAddress) => `${a.name()}.${a.deviceId()}`;
    this.sessionStore = new (class extends S.SessionStore {
      async saveSession(a: S.ProtocolAddress, r: S.SessionRecord) {
        self.sessions.set(key(a), r);
      }
      async getSession(a: S.ProtocolAddress) {
        return self.sessions.get(key(a)) ?? null;
      }
      async getExistingSessions(as: S.ProtocolAddress[]) {
        return as.map((a) => self.sessions.get(key(a))!).filter(Boolean);
      }
    })();
    this.identityStore = new (class extends S.IdentityKeyStore {
      async getIdentityKey() {
        return self.identity.privateKey;
      }
      async getLocalRegistrationId() {
        return self.regId;
      }
      async saveIdentity(a: S.ProtocolAddress, k: S.PublicKey) {
        const old = self.identities.get(key(a));
        self.identities.set(key(a), k);
        return old && !old.equals(k) ? S.IdentityChange.ReplacedExisting : S.IdentityChange.NewOrUnchanged;
      }
      async isTrustedIdentity(a: S.ProtocolAddress, k: S.PublicKey) {
        const old = self.identities.get(key(a));
        return !old || old.equals(k);
      }
      async getIdentity(a: S.ProtocolAddress) {
        return self.identities.get(key(a)) ?? null;
      }
    })();
    this.preKeyStore = new (class extends S.PreKeyStore {
      async savePreKey(id: number, r: S.PreKeyRecord) {
        self.prekeys.set(id, r);
      }
      async getPreKey(id: number) {
        return self.prekeys.get(id)!;
      }
      async removePreKey(id: number) {
        self.prekeys.delete(id);
      }
    })();
    this.signedStore = new (class extends S.SignedPreKeyStore {
      async saveSignedPreKey(id: number, r: S.SignedPreKeyRecord) {
        self.signed.set(id, r);
      }
      async getSignedPreKey(id: number) {
        return self.signed.get(id)!;
      }
    })();
    this.kyberStore = new (class extends S.KyberPreKeyStore {
      async saveKyberPreKey(id: number, r: S.KyberPreKeyRecord) {
        self.kyber.set(id, r);
      }
      async getKyberPreKey(id: number) {
        return self.kyber.get(id)!;
      }
      async markKyberPreKeyUsed() {}
    })();
  }
}

export async function libsignalOps(): Promise<BenchOp[]> {
  const alice = new Stores();
  const bob = new Stores();
  const aAddr = S.ProtocolAddress.new('alice', 1);
  const bAddr = S.ProtocolAddress.new('bob', 1);
  const spk = S.PrivateKey.generate();
  const spkSig = bob.identity.privateKey.sign(spk.getPublicKey().serialize()) as B;
  bob.signed.set(1, S.SignedPreKeyRecord.new(1, Date.now(), spk.getPublicKey(), spk, spkSig));
  const kem = S.KEMKeyPair.generate();
  const kemSig = bob.identity.privateKey.sign(kem.getPublicKey().serialize()) as B;
  bob.kyber.set(1, S.KyberPreKeyRecord.new(1, Date.now(), kem, kemSig));
  let nextPrekey = 1;
  const bundle = () => {
    const id = nextPrekey++;
    const pk = S.PrivateKey.generate();
    bob.prekeys.set(id, S.PreKeyRecord.new(id, pk.getPublicKey(), pk));
    return S.PreKeyBundle.new(
      bob.regId,
      1,
      id,
      pk.getPublicKey(),
      1,
      spk.getPublicKey(),
      spkSig,
      bob.identity.publicKey,
      1,
      kem.getPublicKey(),
      kemSig,
    );
  };
  const send = async (from: Stores, fromAddr: S.ProtocolAddress, to: Stores, toAddr: S.ProtocolAddress) => {
    const ct = await S.signalEncrypt(MESSAGE, toAddr, fromAddr, from.sessionStore, from.identityStore);
    if (ct.type() === S.CiphertextMessageType.PreKey) {
      return S.signalDecryptPreKey(
        S.PreKeySignalMessage.deserialize(ct.serialize()),
        fromAddr,
        toAddr,
        to.sessionStore,
        to.identityStore,
        to.preKeyStore,
        to.signedStore,
        to.kyberStore,
      );
    }
    return S.signalDecrypt(
      S.SignalMessage.deserialize(ct.serialize()),
      fromAddr,
      toAddr,
      to.sessionStore,
      to.identityStore,
    );
  };
  const spkPub = spk.getPublicKey().serialize() as B;
  const kemPub = kem.getPublicKey().serialize() as B;
  const aId = new TextEncoder().encode('aliceuser01') as B;
  const bId = new TextEncoder().encode('bobuser0001') as B;
  let turn = 0;
  return [
    {
      op: 'session setup (both sides)',
      warmup: 10,
      run: async () => {
        // bundle() makes Bob's one-time prekey (ours are made beforehand; libsignal's keygen is ~30 µs).
        const b = bundle();
        // Fresh sessions each time, as ours deletes them (no archived states piling up).
        alice.sessions.clear();
        bob.sessions.clear();
        await S.processPreKeyBundle(b, bAddr, aAddr, alice.sessionStore, alice.identityStore);
        await send(alice, aAddr, bob, bAddr);
      },
    },
    {
      op: 'encrypt+decrypt 200 B, no DH step',
      prepare: async () => {
        await send(alice, aAddr, bob, bAddr);
        await send(bob, bAddr, alice, aAddr);
      },
      run: () => send(alice, aAddr, bob, bAddr),
    },
    {
      op: 'ping-pong message (DH step each)',
      run: () => (turn++ % 2 === 0 ? send(alice, aAddr, bob, bAddr) : send(bob, bAddr, alice, aAddr)),
    },
    {
      // libsignal has no bundle-verification call: processPreKeyBundle checks the signed-prekey and
      // Kyber-prekey signatures, so that is what we time (it caches nothing).
      op: 'bundle verification, cold (1 device)',
      run: async () => {
        if (!bob.identity.publicKey.verify(spkPub, spkSig) || !bob.identity.publicKey.verify(kemPub, kemSig)) {
          throw new Error('bad signature');
        }
      },
    },
    {
      // libsignal has no bundle-verification call: processPreKeyBundle checks the signed-prekey and
      // Kyber-prekey signatures, so that is what we time (it caches nothing).
      op: 'bundle verification, re-fetch (1 device)',
      run: async () => {
        if (!bob.identity.publicKey.verify(spkPub, spkSig) || !bob.identity.publicKey.verify(kemPub, kemSig)) {
          throw new Error('bad signature');
        }
      },
    },
    {
      op: 'safety number',
      warmup: 5,
      run: async () =>
        S.Fingerprint.new(5200, 2, aId, alice.identity.publicKey, bId, bob.identity.publicKey)
          .displayableFingerprint()
          .toString(),
    },
  ];
}
