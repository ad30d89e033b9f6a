/* apn service worker: keeps the app shell and the leader's pages for use without coverage.
   Served by the app at /k/<municipality>/app/sw.js, which fills in the version and the shell list. */
'use strict';
var VERSION = '__VERSION__';
var SHELL = __SHELL__;
var SHELL_CACHE = 'apn-shell-' + VERSION;
var PAGES_CACHE = 'apn-pages';
var SCOPE = new URL(self.registration.scope).pathname;

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (c) { return c.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf('apn-shell-') === 0 && k !== SHELL_CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function isPage(url) {
  return url.pathname.indexOf(SCOPE + 'leader/') === 0;
}

function offlinePage() {
  var html = '<!doctype html><html lang="sv"><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    '<title>Ingen täckning</title><main><h1>Ingen täckning / No coverage</h1>' +
    '<p>Sidan har inte öppnats på den här telefonen förut. Försök igen när du har täckning.</p>' +
    '<p lang="en">This page has not been opened on this phone before. Try again with coverage.</p></main></html>';
  return new Response(html, {status: 503, headers: {'Content-Type': 'text/html; charset=utf-8'}});
}

self.addEventListener('fetch', function (event) {
  var req = event.request;
  if (req.method !== 'GET') { return; }
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (req.mode === 'navigate' && isPage(url)) {
    // Network first, so a leader with coverage always sees the current list; the copy serves without it.
    event.respondWith(fetch(req).then(function (resp) {
      if (resp.ok && !resp.redirected) {
        var copy = resp.clone();
        caches.open(PAGES_CACHE).then(function (c) { return c.put(req, copy); });
      }
      return resp;
    }).catch(function () {
      return caches.match(req, {cacheName: PAGES_CACHE}).then(function (r) { return r || offlinePage(); });
    }));
    return;
  }
  if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(req, {cacheName: SHELL_CACHE}).then(function (r) { return r || fetch(req); }));
  }
});
