/**
 * MLS group costs for one group size (isomorphic: Node and the Chromium page run this same code).
 * A group of `devices` leaves is built with one commit, one member joins from the welcome, then:
 * add one device, remove one device (committer and a receiving member), and send/receive one
 * application message. Every device is its own account here, so each leaf's binding is checked
 * against a distinct identity, as in a group of people with one device each.
 */
import {
  createLeafSigner,
  createPrimitives,
  generateIdentity,
  generateKeyPackages,
  type LeafIdentity,
  type LocalKeyPackage,
  type MlsDeps,
  MlsGroup,
  mlsSuite,
  utf8,
} from '../src/index.js';

export interface GroupRow {
  devices: number;
  /** One commit adding devices-1 members (setup), ms. */
  createMs: number;
  /** A new member processing the welcome (validates every leaf's binding), ms. */
  joinMs: number;
  addCommitMs: number;
  addProcessMs: number;
  removeCommitMs: number;
  removeProcessMs: number;
  encryptMs: number;
  decryptMs: number;
  commitBytes: number;
  welcomeBytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function groupRow(devices: number): Promise<GroupRow> {
  const prims = await createPrimitives();
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const suite = await mlsSuite(random);
  const known = new Map<string, Uint8Array>();
  const deps: MlsDeps = {
    prims,
    suite,
    now: Date.now,
    check: (l: LeafIdentity) => {
      const k = known.get(l.userId);
      return k?.every((b, i) => b === l.identityKey[i]) === true;
    },
  };
  let n = 0;
  const newDevice = async () => {
    const userId = `user${String(n++).padStart(16, '0')}`;
    const identity = await generateIdentity(prims, random);
    known.set(userId, identity.publicKey);
    const signer = await createLeafSigner(prims, suite, identity, userId, 'device000001');
    const [kp] = (await generateKeyPackages(suite, signer, 1, Date.now)) as [LocalKeyPackage];
    return { userId, signer, kp };
  };
  const creator = await newDevice();
  const joiner = await newDevice();
  const others = await Promise.all(Array.from({ length: devices - 2 }, newDevice));

  let t = performance.now();
  const a = await MlsGroup.create(deps, creator.signer, random(16));
  const setup = await a.proposeAdd([joiner, ...others].map((d) => d.kp.publicMessage));
  a.applyPending(setup);
  const createMs = performance.now() - t;
  t = performance.now();
  const b = await MlsGroup.join(deps, joiner.signer, joiner.kp, setup.welcome as Uint8Array);
  const joinMs = performance.now() - t;

  const addC: number[] = [];
  const addP: number[] = [];
  const remC: number[] = [];
  const remP: number[] = [];
  let commitBytes = 0;
  let welcomeBytes = 0;
  const added: string[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await newDevice();
    t = performance.now();
    const p = await a.proposeAdd([d.kp.publicMessage]);
    a.applyPending(p);
    addC.push(performance.now() - t);
    t = performance.now();
    await b.process(p.commit);
    addP.push(performance.now() - t);
    commitBytes = p.commit.length;
    welcomeBytes = p.welcome?.length ?? 0;
    added.push(d.userId);
  }
  for (const userId of added) {
    t = performance.now();
    const p = await a.proposeRemove([{ userId }]);
    a.applyPending(p);
    remC.push(performance.now() - t);
    t = performance.now();
    await b.process(p.commit);
    remP.push(performance.now() - t);
  }
  const enc: number[] = [];
  const dec: number[] = [];
  for (let i = 0; i < 20; i++) {
    t = performance.now();
    const m = await a.encrypt(utf8(`message ${i} — a typical short chat line`));
    enc.push(performance.now() - t);
    t = performance.now();
    await b.process(m);
    dec.push(performance.now() - t);
  }
  return {
    devices,
    createMs,
    joinMs,
    addCommitMs: median(addC),
    addProcessMs: median(addP),
    removeCommitMs: median(remC),
    removeProcessMs: median(remP),
    encryptMs: median(enc),
    decryptMs: median(dec),
    commitBytes,
    welcomeBytes,
  };
}

export function formatRows(where: string, rows: GroupRow[]): string[] {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return rows.map(
    (r) =>
      `| ${where} | ${r.devices} | ${f(r.createMs)} | ${f(r.joinMs)} | ${f(r.addCommitMs)} / ${f(r.addProcessMs)} | ${f(r.removeCommitMs)} / ${f(r.removeProcessMs)} | ${f(r.encryptMs)} / ${f(r.decryptMs)} | ${r.commitBytes} / ${r.welcomeBytes} |`,
  );
}
