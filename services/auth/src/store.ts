import { createHash } from 'node:crypto';

/**
 * Redis layout (every key carries REDIS_PREFIX):
 *   auth:signing              JSON {current: {kid, privateJwk, publicJwk}, previous: [publicJwk]}
 *   auth:username:<name>      userId (claimed with SET NX, so a name is taken exactly once)
 *   auth:user:<userId>        hash {username, passwordHash, createdAt}
 *   auth:devices:<userId>     set of the account's active deviceIds
 *   auth:device:<deviceId>    hash {userId, name, createdAt, lastSeen, revokedAt?, revokeReason?}
 *   auth:revoked:<deviceId>   "1" while a revoked device could still hold a refresh token
 *   auth:rt:<sha256(token)>   hash {userId, deviceId, family, state: active|used}, PX = refresh TTL
 *   auth:rtdev:<deviceId>     set of the refresh-token hashes of a device (to revoke them all)
 *   auth:rl:<kind>:<id>       fixed-window counters (login failures, registrations, lookups), PX = window
 *   auth:known:<userId>       set of sha256(client address) that signed in to the account, PX = refresh TTL
 */
export function redisKeys(prefix: string) {
  return {
    signing: `${prefix}auth:signing`,
    username: (u: string) => `${prefix}auth:username:${u}`,
    user: (id: string) => `${prefix}auth:user:${id}`,
    devices: (userId: string) => `${prefix}auth:devices:${userId}`,
    device: (id: string) => `${prefix}auth:device:${id}`,
    revoked: (id: string) => `${prefix}auth:revoked:${id}`,
    refresh: (h: string) => `${prefix}auth:rt:${h}`,
    deviceRefresh: (id: string) => `${prefix}auth:rtdev:${id}`,
    rate: (kind: string, id: string) => `${prefix}auth:rl:${kind}:${id}`,
    known: (userId: string) => `${prefix}auth:known:${userId}`,
  };
}

/**
 * Marks a refresh token used, atomically, and says what it was. 'reused' means the token had
 * already been rotated: someone holds a copy (RFC 6819 §5.2.2.3, refresh token rotation).
 */
export const ROTATE_LUA = `
local t = redis.call('HMGET', KEYS[1], 'state', 'userId', 'deviceId', 'family')
if not t[1] then return {'missing'} end
if t[1] == 'used' then return {'reused', t[2], t[3], t[4]} end
redis.call('HSET', KEYS[1], 'state', 'used')
return {'ok', t[2], t[3], t[4]}
`;

/**
 * Counts one login attempt BEFORE the password is checked, in one script, so concurrent guesses
 * cannot all pass a read-then-check (every attempt takes a slot first; a success gives its slots
 * back). KEYS: [user+address, user, address, known addresses of the user]; ARGV: [window ms,
 * limit per user+address, limit per user, limit per address, sha256(address)].
 * The per-user ceiling does not apply to an address that signed in to the account before, so a
 * stranger cannot lock a user out of the places they usually sign in from (OWASP Authentication
 * Cheat Sheet, "Account lockout": lockout must not become a denial of service). Returns
 * {0, 0} when allowed, else {1, ms left in the window that refused}.
 */
export const LOGIN_ATTEMPT_LUA = `
local known = redis.call('SISMEMBER', KEYS[4], ARGV[5]) == 1
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
for i = 1, 3 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
for i = 1, 3 do
  local n = tonumber(redis.call('GET', KEYS[i]))
  if n > limits[i] and not (i == 2 and known) then
    return {1, redis.call('PTTL', KEYS[i])}
  end
end
return {0, 0}
`;

/** Gives back the slots of a successful login (failures only count against the limits). */
export const LOGIN_SUCCESS_LUA = `
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
`;

/** Adds a device unless the account already has the maximum; 0 when full (KEYS: devices, device). */
export const ADD_DEVICE_LUA = `
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'userId', ARGV[2], 'name', ARGV[3], 'createdAt', ARGV[4], 'lastSeen', ARGV[4])
redis.call('SADD', KEYS[1], ARGV[5])
return 1
`;

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
