/*
 * Hush's service worker (docs/ARCHITECTURE.md, "Installable app and offline start"). It keeps the
 * app shell — index.html, the hashed scripts and styles it names, the manifest and the icons — so
 * Hush starts without a network; the encrypted store in IndexedDB then shows the history offline.
 *
 * It never touches anything else: no API answer (/v1/...), no WebSocket, no attachment (those are
 * under /v1/attachments), no other origin. Those requests are not intercepted at all, so the
 * browser handles them as if there were no worker. Served from 'self' under the gateway's CSP
 * (`worker-src 'self'`); no inline script, no eval.
 */
const CACHE = 'hush-shell-v1';
const FIXED = ['/', '/manifest.webmanifest', '/icons/icon-192.png', '/icons/icon-512.png'];

/** The shell's files: the fixed ones, plus the /assets/ files index.html names (their names carry a hash). */
async function shellFiles() {
  const html = await (await fetch('/', { cache: 'no-store' })).text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  return [...FIXED, ...assets];
}

/**
 * After a page load from the network: a new index.html names new hashed files; keep them for the
 * next offline start, and drop those of older releases (nothing else is ever in the cache).
 */
async function refreshShell(cache) {
  const files = await shellFiles().catch(() => null);
  if (!files) return;
  for (const f of files) if (!(await cache.match(f))) await cache.add(f).catch(() => undefined);
  const keep = new Set(files.map((f) => new URL(f, self.location.origin).href));
  for (const req of await cache.keys()) if (!keep.has(req.url)) await cache.delete(req);
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(await shellFiles());
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

/** Only the shell: same origin, GET, and a page load, a hashed asset, the manifest or an icon. */
function isShell(request, url) {
  if (request.method !== 'GET' || url.origin !== self.location.origin) return false;
  if (request.mode === 'navigate') return !url.pathname.startsWith('/v1/') && !url.pathname.startsWith('/docs');
  return (
    url.pathname.startsWith('/assets/') ||
    url.pathname.startsWith('/icons/') ||
    url.pathname === '/manifest.webmanifest'
  );
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (!isShell(event.request, url)) return;
  if (event.request.mode === 'navigate') {
    // The network first, so a new release is picked up at once; the cached page when offline.
    event.respondWith(
      (async () => {
        try {
          const fresh = await fetch(event.request);
          if (fresh.ok) {
            const cache = await caches.open(CACHE);
            await cache.put('/', fresh.clone());
            event.waitUntil(refreshShell(cache));
          }
          return fresh;
        } catch {
          return (await caches.match('/')) ?? Response.error();
        }
      })(),
    );
    return;
  }
  // Hashed assets never change under one name: the cache first.
  event.respondWith(
    (async () => {
      const hit = await caches.match(event.request);
      if (hit) return hit;
      const res = await fetch(event.request);
      if (res.ok) (await caches.open(CACHE)).put(event.request, res.clone());
      return res;
    })(),
  );
});
