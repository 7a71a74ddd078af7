/**
 * The IETF MLS working group's test vectors (mlswg/mls-implementations, test-vectors.md) for the
 * one cipher suite Hush uses, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (RFC 9420 §17.1,
 * id 1), run against the ts-mls version we ship. Vendored in test/vectors/mls/ (provenance in its
 * README): no network at test time. Each file's checks follow test-vectors.md; every positive
 * check that can be flipped has a one-byte-flip negative beside it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CiphersuiteImpl,
  type ClientState,
  decodeMlsMessage,
  joinGroup,
  makePskIndex,
  processMessage,
} from 'ts-mls';
import { decodeAuthenticatedContent } from 'ts-mls/authenticatedContent.js';
import { decodeCommit, encodeCommit } from 'ts-mls/commit.js';
import { refhash } from 'ts-mls/crypto/hash.js';
import { decryptWithLabel } from 'ts-mls/crypto/hpke.js';
import { deriveSecret, deriveTreeSecret, expandWithLabel } from 'ts-mls/crypto/kdf.js';
import { verifyWithLabel } from 'ts-mls/crypto/signature.js';
import { encodeGroupContext, type GroupContext } from 'ts-mls/groupContext.js';
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import { initializeEpoch, mlsExporter } from 'ts-mls/keySchedule.js';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { decodeProposal, encodeProposal } from 'ts-mls/proposal.js';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { createSecretTree, ratchetToGeneration } from 'ts-mls/secretTree.js';
import { expandSenderDataKey, expandSenderDataNonce, type ReuseGuard } from 'ts-mls/sender.js';
import { createConfirmedHash, createInterimHash } from 'ts-mls/transcriptHash.js';
import { left, parent, right, root, sibling, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js';
import { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toBase64 } from '../src/encoding.js';
import { mlsSuite } from '../src/mls/suite.js';
import { defaultRandomBytes } from '../src/primitives/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'vectors', 'mls');
/** A vector case: plain JSON, read field by field below. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON data, checked by the assertions that use it
type Vec = any;
const load = (name: string): Vec[] => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
const h = fromHex;
/** The same bytes with one bit flipped: every accepted value must be refused once altered. */
const flip = (b: Uint8Array, at = 0) => {
  const c = b.slice();
  c[at % c.length] = (c[at % c.length] ?? 0) ^ 1;
  return c;
};

let cs: CiphersuiteImpl;
beforeAll(async () => {
  // The suite exactly as the product builds it (src/mls/suite.ts).
  cs = await mlsSuite(defaultRandomBytes);
});

describe('IETF MLS vectors, cipher suite 1', () => {
  it('only cipher suite 1 is vendored, and every file has cases', () => {
    for (const f of [
      'passive-client-welcome',
      'passive-client-handling-commit',
      'crypto-basics',
      'key-schedule',
      'secret-tree',
      'message-protection',
      'welcome',
      'transcript-hashes',
    ]) {
      const v = load(f);
      expect(v.length, f).toBeGreaterThan(0);
      for (const x of v) expect(x.cipher_suite, f).toBe(1);
    }
  });

  it('tree-math: root, left, right, parent and sibling of every node (RFC 9420 Appendix C)', () => {
    const v = load('tree-math');
    expect(v.length).toBe(10);
    for (const t of v) {
      expect(root(t.n_leaves)).toBe(t.root);
      for (let i = 0; i < t.n_nodes; i++) {
        const n = toNodeIndex(i);
        const leaf = i % 2 === 0;
        if (!leaf) {
          expect(left(n)).toBe(t.left[i]);
          expect(right(n)).toBe(t.right[i]);
        }
        if (i !== t.root) {
          expect(parent(n, t.n_leaves)).toBe(t.parent[i]);
          expect(sibling(n, t.n_leaves)).toBe(t.sibling[i]);
        }
      }
    }
  });

  it('crypto-basics: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel, EncryptWithLabel', async () => {
    for (const x of load('crypto-basics')) {
      expect(await refhash(x.ref_hash.label, h(x.ref_hash.value), cs.hash)).toEqual(h(x.ref_hash.out));
      const e = x.expand_with_label;
      expect(await expandWithLabel(h(e.secret), e.label, h(e.context), e.length, cs.kdf)).toEqual(h(e.out));
      expect(await deriveSecret(h(x.derive_secret.secret), x.derive_secret.label, cs.kdf)).toEqual(
        h(x.derive_secret.out),
      );
      const t = x.derive_tree_secret;
      expect(await deriveTreeSecret(h(t.secret), t.label, t.generation, t.length, cs.kdf)).toEqual(h(t.out));
      const s = x.sign_with_label;
      expect(await verifyWithLabel(h(s.pub), s.label, h(s.content), h(s.signature), cs.signature)).toBe(true);
      expect(await verifyWithLabel(h(s.pub), s.label, flip(h(s.content)), h(s.signature), cs.signature)).toBe(false);
      const c = x.encrypt_with_label;
      const priv = await cs.hpke.importPrivateKey(h(c.priv));
      const pt = await decryptWithLabel(priv, c.label, h(c.context), h(c.kem_output), h(c.ciphertext), cs.hpke);
      expect(pt).toEqual(h(c.plaintext));
      await expect(
        decryptWithLabel(priv, c.label, h(c.context), h(c.kem_output), flip(h(c.ciphertext)), cs.hpke),
      ).rejects.toThrow();
    }
  });

  it('key-schedule: every epoch secret, the external key and the exporter (RFC 9420 §8)', async () => {
    for (const x of load('key-schedule')) {
      let init = h(x.initial_init_secret);
      for (const [i, ep] of (x.epochs as Vec[]).entries()) {
        const gc: GroupContext = {
          version: 'mls10',
          cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
          groupId: h(x.group_id),
          epoch: BigInt(i),
          treeHash: h(ep.tree_hash),
          confirmedTranscriptHash: h(ep.confirmed_transcript_hash),
          extensions: [],
        };
        expect(encodeGroupContext(gc)).toEqual(h(ep.group_context));
        const r = await initializeEpoch(init, h(ep.commit_secret), gc, h(ep.psk_secret), cs.kdf);
        expect(r.joinerSecret).toEqual(h(ep.joiner_secret));
        expect(r.welcomeSecret).toEqual(h(ep.welcome_secret));
        expect(r.encryptionSecret).toEqual(h(ep.encryption_secret));
        const k = r.keySchedule;
        expect(k.initSecret).toEqual(h(ep.init_secret));
        expect(k.senderDataSecret).toEqual(h(ep.sender_data_secret));
        expect(k.exporterSecret).toEqual(h(ep.exporter_secret));
        expect(k.externalSecret).toEqual(h(ep.external_secret));
        expect(k.confirmationKey).toEqual(h(ep.confirmation_key));
        expect(k.membershipKey).toEqual(h(ep.membership_key));
        expect(k.resumptionPsk).toEqual(h(ep.resumption_psk));
        expect(k.epochAuthenticator).toEqual(h(ep.epoch_authenticator));
        const { publicKey } = await cs.hpke.deriveKeyPair(h(ep.external_secret));
        expect(await cs.hpke.exportPublicKey(publicKey)).toEqual(h(ep.external_pub));
        const xp = ep.exporter;
        expect(await mlsExporter(k.exporterSecret, xp.label, h(xp.context), xp.length, cs)).toEqual(h(xp.secret));
        // A different commit secret gives a different epoch.
        const other = await initializeEpoch(init, flip(h(ep.commit_secret)), gc, h(ep.psk_secret), cs.kdf);
        expect(other.keySchedule.epochAuthenticator).not.toEqual(h(ep.epoch_authenticator));
        init = k.initSecret;
      }
    }
  });

  it('secret-tree: sender-data key and nonce, handshake and application ratchets per leaf (RFC 9420 §9)', async () => {
    for (const x of load('secret-tree')) {
      const sd = x.sender_data;
      expect(await expandSenderDataKey(cs, h(sd.sender_data_secret), h(sd.ciphertext))).toEqual(h(sd.key));
      expect(await expandSenderDataNonce(cs, h(sd.sender_data_secret), h(sd.ciphertext))).toEqual(h(sd.nonce));
      let tree = await createSecretTree(x.leaves.length, h(x.encryption_secret), cs.kdf);
      for (const [i, gens] of (x.leaves as Vec[][]).entries()) {
        for (const g of gens) {
          const senderData = {
            leafIndex: toLeafIndex(i),
            generation: g.generation,
            reuseGuard: new Uint8Array(4) as ReuseGuard,
          };
          const app = await ratchetToGeneration(tree, senderData, 'application', defaultKeyRetentionConfig, cs);
          expect(app.key).toEqual(h(g.application_key));
          expect(app.nonce).toEqual(h(g.application_nonce));
          const hs = await ratchetToGeneration(app.newTree, senderData, 'commit', defaultKeyRetentionConfig, cs);
          expect(hs.key).toEqual(h(g.handshake_key));
          expect(hs.nonce).toEqual(h(g.handshake_nonce));
          tree = hs.newTree;
        }
      }
    }
  });

  it('message-protection: private proposal, commit and application decrypt to the given content (RFC 9420 §6.3)', async () => {
    for (const x of load('message-protection')) {
      const gc: GroupContext = {
        version: 'mls10',
        cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
        groupId: h(x.group_id),
        epoch: BigInt(x.epoch),
        treeHash: h(x.tree_hash),
        confirmedTranscriptHash: h(x.confirmed_transcript_hash),
        extensions: [],
      };
      const open = async (hex: string, tamper = false) => {
        const m = decodeMlsMessage(h(hex), 0);
        if (m?.[0].wireformat !== 'mls_private_message') throw new Error('not a private message');
        const pm = m[0].privateMessage;
        const msg = tamper ? { ...pm, ciphertext: flip(pm.ciphertext, 7) } : pm;
        const tree = await createSecretTree(2, h(x.encryption_secret), cs.kdf);
        const r = await unprotectPrivateMessage(
          h(x.sender_data_secret),
          msg,
          tree,
          [],
          gc,
          defaultKeyRetentionConfig,
          cs,
          h(x.signature_pub),
        );
        return r.content.content;
      };
      const app = await open(x.application_priv);
      expect(app.contentType).toBe('application');
      if (app.contentType === 'application') expect(app.applicationData).toEqual(h(x.application));
      const prop = await open(x.proposal_priv);
      const p = decodeProposal(h(x.proposal), 0);
      if (prop.contentType !== 'proposal' || !p) throw new Error('not a proposal');
      expect(encodeProposal(prop.proposal)).toEqual(encodeProposal(p[0]));
      const com = await open(x.commit_priv);
      const c = decodeCommit(h(x.commit), 0);
      if (com.contentType !== 'commit' || !c) throw new Error('not a commit');
      expect(encodeCommit(com.commit)).toEqual(h(x.commit));
      await expect(open(x.application_priv, true)).rejects.toThrow();
    }
  });

  it('welcome: group secrets and group info decrypt, confirmation tag and signature verify (RFC 9420 §12.4.3)', async () => {
    for (const x of load('welcome')) {
      const w = decodeMlsMessage(h(x.welcome), 0);
      const kp = decodeMlsMessage(h(x.key_package), 0);
      if (w?.[0].wireformat !== 'mls_welcome' || !kp || kp[0].wireformat !== 'mls_key_package')
        throw new Error('bad vector');
      const welcome = w[0].welcome;
      const ref = await makeKeyPackageRef(kp[0].keyPackage, cs.hash);
      const priv = await cs.hpke.importPrivateKey(h(x.init_priv));
      const secrets = await decryptGroupSecrets(priv, ref, welcome, cs.hpke);
      if (!secrets) throw new Error('group secrets did not decrypt');
      const psk = new Uint8Array(cs.kdf.size);
      const gi = await decryptGroupInfo(welcome, secrets.joinerSecret, psk, cs);
      if (!gi) throw new Error('group info did not decrypt');
      expect(await verifyGroupInfoConfirmationTag(gi, secrets.joinerSecret, psk, cs)).toBe(true);
      expect(await verifyGroupInfoSignature(gi, h(x.signer_pub), cs.signature)).toBe(true);
      expect(await verifyGroupInfoSignature(gi, flip(h(x.signer_pub)), cs.signature)).toBe(false);
      await expect(decryptGroupInfo(welcome, flip(secrets.joinerSecret), psk, cs)).rejects.toThrow();
    }
  });

  it('transcript-hashes: confirmation tag, confirmed and interim transcript hashes (RFC 9420 §8.2)', async () => {
    for (const x of load('transcript-hashes')) {
      const a = decodeAuthenticatedContent(h(x.authenticated_content), 0);
      if (a?.[0].content.contentType !== 'commit' || a[0].auth.contentType !== 'commit')
        throw new Error('not a commit');
      const tag = a[0].auth.confirmationTag;
      expect(await cs.hash.verifyMac(h(x.confirmation_key), tag, h(x.confirmed_transcript_hash_after))).toBe(true);
      expect(await cs.hash.verifyMac(h(x.confirmation_key), flip(tag), h(x.confirmed_transcript_hash_after))).toBe(
        false,
      );
      const input = { wireformat: a[0].wireformat, content: a[0].content, signature: a[0].auth.signature };
      const confirmed = await createConfirmedHash(h(x.interim_transcript_hash_before), input, cs.hash);
      expect(confirmed).toEqual(h(x.confirmed_transcript_hash_after));
      expect(await createInterimHash(confirmed, tag, cs.hash)).toEqual(h(x.interim_transcript_hash_after));
    }
  });

  /** Joins as the vector's passive client; returns the state and the PSKs it knows. */
  const passiveJoin = async (x: Vec) => {
    const kp = decodeMlsMessage(h(x.key_package), 0);
    const w = decodeMlsMessage(h(x.welcome), 0);
    if (kp?.[0].wireformat !== 'mls_key_package' || !w || w[0].wireformat !== 'mls_welcome')
      throw new Error('bad vector');
    const psks: Record<string, Uint8Array> = {};
    for (const p of x.external_psks as { psk_id: string; psk: string }[]) psks[toBase64(h(p.psk_id))] = h(p.psk);
    const tree = x.ratchet_tree ? decodeRatchetTree(h(x.ratchet_tree), 0)?.[0] : undefined;
    const keys = {
      hpkePrivateKey: h(x.encryption_priv),
      initPrivateKey: h(x.init_priv),
      signaturePrivateKey: h(x.signature_priv),
    };
    const state = await joinGroup(w[0].welcome, kp[0].keyPackage, keys, makePskIndex(undefined, psks), cs, tree);
    expect(state.keySchedule.epochAuthenticator).toEqual(h(x.initial_epoch_authenticator));
    // The wrong init key cannot open the welcome.
    const wrong = { ...keys, initPrivateKey: flip(keys.initPrivateKey, 5) };
    await expect(
      joinGroup(w[0].welcome, kp[0].keyPackage, wrong, makePskIndex(undefined, psks), cs, tree),
    ).rejects.toThrow();
    return { state, psks };
  };

  it('passive-client-welcome: joining from each welcome reaches the given epoch authenticator (RFC 9420 §12.4.3.1)', async () => {
    const cases = load('passive-client-welcome');
    expect(cases.length).toBe(8);
    for (const x of cases) await passiveJoin(x);
  });

  it('passive-client-handling-commit: proposals and commits of each epoch give its epoch authenticator (RFC 9420 §12.4.2)', async () => {
    const cases = load('passive-client-handling-commit');
    expect(cases.length).toBe(13);
    for (const x of cases) {
      let { state, psks } = await passiveJoin(x);
      for (const ep of x.epochs as { proposals: string[]; commit: string; epoch_authenticator: string }[]) {
        for (const msg of [...ep.proposals, ep.commit]) {
          const m = decodeMlsMessage(h(msg), 0);
          if (!m || (m[0].wireformat !== 'mls_private_message' && m[0].wireformat !== 'mls_public_message'))
            throw new Error('not a handshake message');
          const r = await processMessage(m[0], state, makePskIndex(state, psks), () => 'accept', cs);
          state = r.newState as ClientState;
        }
        expect(state.keySchedule.epochAuthenticator).toEqual(h(ep.epoch_authenticator));
      }
    }
  });
});
