import { HushError, isRetryableCode, normaliseUsername } from '@hush/protocol';
import { newMessageId } from '../core/content.js';
import { encodeGroupContent, type GroupRecord, isAdmin, MAX_GROUP_NAME_CHARS } from '../core/groups.js';
import type { PendingChange } from './group-ports.js';
import type { GroupState } from './group-state.js';

/** Keep at least this many one-use key packages in keydir; top up by KEY_PACKAGE_BATCH. */
export const KEY_PACKAGE_LOW_WATER = 5;
export const KEY_PACKAGE_BATCH = 20;
/** A commit that lost its epoch is built again after the winner arrived; this many times at most. */
const COMMIT_ATTEMPTS = 6;
/** A commit whose answer was lost is sent again with the same id (the gateway answers a retry). */
const SAME_COMMIT_RETRIES = 3;

interface Claimed {
  userId: string;
  deviceId: string;
  body: string;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Member changes: creating a group, adding and removing people, leaving, keeping our own devices'
 * leaves in step with our signed device list, and this device's key packages in keydir. Every
 * change is one MLS commit, built on the current epoch and applied only once the gateway accepted
 * it as that epoch's commit (PROTOCOL.md §9.3); one that lost the race is rebuilt after the winner.
 */
export class GroupAdmin {
  constructor(private readonly g: GroupState) {}

  private api() {
    const api = this.g.api;
    if (!api) throw new Error('not connected');
    return api;
  }

  /** Signer and key packages of this device (on every connect). */
  async upkeep(): Promise<void> {
    const me = this.g.ctx.state.me;
    const api = this.g.api;
    if (!me || !api) return;
    await this.g.queue(() => this.g.port.prepareDevice(me.userId, me.deviceId));
    const count = await api.keyPackageCount();
    if (count.remaining >= KEY_PACKAGE_LOW_WATER && count.lastResort) return;
    const body = await this.g.port.makeKeyPackages(
      count.remaining >= KEY_PACKAGE_LOW_WATER ? 0 : KEY_PACKAGE_BATCH,
      !count.lastResort,
    );
    await api.uploadKeyPackages(body);
  }

  /** Runs `build` on the current epoch and submits it until it is accepted (or nothing is left to do). */
  async commit(groupId: string, build: () => Promise<PendingChange | null>): Promise<boolean> {
    const api = this.api();
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const r = await this.g.queue(async () => {
        const p = await build();
        if (!p) return 'nothing' as const;
        const body = {
          id: newMessageId(),
          epoch: p.epoch,
          commit: p.commit,
          ...(p.welcome ? { welcome: p.welcome } : {}),
          add: p.added,
          remove: p.removed,
        };
        for (let i = 0; ; i++) {
          try {
            await api.groupCommit(groupId, body);
            break;
          } catch (e) {
            const lost = !(e instanceof HushError) || isRetryableCode(e.code);
            if (lost && i < SAME_COMMIT_RETRIES) continue;
            this.g.port.dropPending(groupId);
            if (e instanceof HushError && e.code === 'GROUP_EPOCH_MISMATCH') return 'lost' as const;
            throw e;
          }
        }
        await this.g.port.applyPending(groupId);
        const rec = this.g.rec(groupId);
        if (rec)
          await this.g.saveGroup({ ...rec, people: await this.g.peopleOf((await this.g.port.members(groupId)) ?? []) });
        return 'done' as const;
      });
      if (r !== 'lost') return r === 'done';
      // Another member's commit won this epoch: let the mailbox bring it, then build again.
      await new Promise<void>((res) => this.g.ctx.deps.clock.setTimeout(res, 400 * (attempt + 1)));
    }
    throw new Error('The group kept changing while you edited it. Try again.');
  }

  /** Tells members (and newly added devices) the name and admins; sent after each change we commit. */
  async announce(groupId: string): Promise<void> {
    const rec = this.g.rec(groupId);
    if (rec?.state !== 'active') return;
    await this.post(groupId, { v: 1, t: 'group', name: rec.name, admins: rec.admins });
  }

  async post(groupId: string, content: Parameters<typeof encodeGroupContent>[0], id = newMessageId()): Promise<string> {
    const body = await this.g.queue(() => this.g.port.encrypt(groupId, encodeGroupContent(content)));
    await this.api().groupMessage(groupId, id, body);
    return body;
  }

  /** Key packages of every listed device of those accounts, minus leaves the group already has. */
  private async packagesFor(groupId: string | null, userIds: string[]): Promise<Claimed[]> {
    const api = this.api();
    const have = groupId ? ((await this.g.port.members(groupId)) ?? []) : [];
    const out: Claimed[] = [];
    for (const u of userIds) {
      let claimed: Awaited<ReturnType<typeof api.claimKeyPackages>>;
      try {
        claimed = await api.claimKeyPackages(u);
      } catch (e) {
        // Our own account may have no other device (or none with packages yet): nothing to add.
        if (u === this.g.me) continue;
        throw e;
      }
      for (const p of claimed.packages)
        if (!have.some((l) => l.userId === u && l.deviceId === p.deviceId))
          out.push({ userId: u, deviceId: p.deviceId, body: p.body });
    }
    return out;
  }

  /** An add commit of those packages whose devices are not leaves yet (a rebuilt commit skips what the winner added). */
  private addBuild(groupId: string, packages: Claimed[]) {
    return async () => {
      const have = (await this.g.port.members(groupId)) ?? [];
      const todo = packages.filter((p) => !have.some((l) => l.userId === p.userId && l.deviceId === p.deviceId));
      return todo.length === 0
        ? null
        : this.g.port.proposeAdd(
            groupId,
            todo.map((p) => p.body),
            this.g.learn,
          );
    };
  }

  private async resolve(usernames: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const raw of usernames) {
      const name = normaliseUsername(raw.trim());
      if (!name) throw new HushError('AUTH_INVALID_USERNAME');
      const p = await this.g.ctx.api!.lookupUser(name);
      if (p.userId === this.g.me) continue;
      await this.g.learn(p.userId);
      if (!ids.includes(p.userId)) ids.push(p.userId);
    }
    return ids;
  }

  async create(name: string, usernames: string[]): Promise<string> {
    const me = this.g.ctx.state.me;
    const title = name.trim();
    if (!me) throw new Error('not signed in');
    if (!title || title.length > MAX_GROUP_NAME_CHARS)
      throw new Error(`A group name is 1-${MAX_GROUP_NAME_CHARS} characters.`);
    const people = await this.resolve(usernames);
    if (people.length === 0) throw new Error('Add at least one other person.');
    const id = hex(globalThis.crypto.getRandomValues(new Uint8Array(16)));
    await this.g.queue(() => this.g.port.create(id));
    await this.api().createGroup(id);
    const now = this.g.ctx.now();
    const rec: GroupRecord = {
      id,
      name: title,
      admins: [me.userId],
      people: [{ userId: me.userId, username: me.username, devices: 1 }],
      leaving: [],
      createdAt: now,
      lastAt: now,
      lastText: '',
      unread: 0,
      state: 'active',
    };
    await this.g.saveGroup(rec);
    // One commit adds everyone: our own other devices and every device of each person.
    const packages = await this.packagesFor(null, [me.userId, ...people]);
    await this.commit(id, this.addBuild(id, packages));
    await this.g.notice(id, `You created “${title}”`);
    await this.announce(id);
    return id;
  }

  private mustAdmin(groupId: string): GroupRecord {
    const rec = this.g.rec(groupId);
    if (rec?.state !== 'active') throw new Error('You are not in this group.');
    if (!isAdmin(rec, this.g.me!)) throw new Error('Only admins add and remove members.');
    return rec;
  }

  async add(groupId: string, usernames: string[]): Promise<void> {
    this.mustAdmin(groupId);
    const people = await this.resolve(usernames);
    const packages = await this.packagesFor(groupId, people);
    if (packages.length === 0) throw new Error('They are in the group already.');
    await this.commit(groupId, this.addBuild(groupId, packages));
    await this.announce(groupId);
  }

  async remove(groupId: string, userId: string): Promise<void> {
    const rec = this.mustAdmin(groupId);
    if (userId === this.g.me) throw new Error('Use “Leave group” to leave.');
    const present = async () => ((await this.g.port.members(groupId)) ?? []).some((l) => l.userId === userId);
    await this.commit(groupId, async () =>
      (await present()) ? this.g.port.proposeRemove(groupId, [{ userId }]) : null,
    );
    const now = this.g.rec(groupId) ?? rec;
    if (now.admins.includes(userId)) await this.g.saveGroup({ ...now, admins: now.admins.filter((a) => a !== userId) });
    await this.announce(groupId);
  }

  /** Says "I leave" (an admin commits the removal) and forgets the group's keys here. */
  async leave(groupId: string): Promise<void> {
    const rec = this.g.rec(groupId);
    if (rec?.state !== 'active') return;
    await this.post(groupId, { v: 1, t: 'leave' });
    await this.g.queue(() => this.g.port.forget(groupId));
    await this.g.saveGroup({ ...rec, state: 'left' });
    await this.g.notice(groupId, 'You left the group');
  }

  /**
   * Every device is a leaf: adds our devices that the signed device list has and the group lacks
   * (a device linked later), removes leaves of devices no longer on it (signed out).
   */
  async syncOwnDevices(groupId: string): Promise<void> {
    const me = this.g.ctx.state.me;
    if (!me || this.g.rec(groupId)?.state !== 'active') return;
    const own = await this.g.port.ownDevices(me.userId);
    const leaves = (await this.g.port.members(groupId)) ?? [];
    if (!own || leaves.length === 0) return;
    const mine = leaves.filter((l) => l.userId === me.userId).map((l) => l.deviceId);
    const gone = mine.filter((d) => d !== me.deviceId && !own.includes(d));
    if (gone.length > 0)
      await this.commit(groupId, async () => {
        const still = ((await this.g.port.members(groupId)) ?? []).filter(
          (l) => l.userId === me.userId && gone.includes(l.deviceId),
        );
        return still.length === 0 ? null : this.g.port.proposeRemove(groupId, still);
      });
    if (own.some((d) => d !== me.deviceId && !mine.includes(d))) {
      const packages = await this.packagesFor(groupId, [me.userId]);
      if (packages.length === 0) return;
      await this.commit(groupId, this.addBuild(groupId, packages));
      await this.announce(groupId);
    }
  }
}
