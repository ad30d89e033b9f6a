/* apn app: attendance kept on the phone (IndexedDB outbox) and sent when there is coverage.
   Each attendance gets an idempotency key when it is taken, so a resend never doubles it.
   Without JavaScript (or IndexedDB) the form posts to the server as a plain form. */
(function () {
  'use strict';
  var cfgEl = document.getElementById('apn-app');
  if (!cfgEl) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var T = cfg.i18n;
  var STORE = 'outbox';
  var dbPromise = null;

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(cfg.swUrl, {scope: cfg.scope}).catch(function () { /* app works without */ });
  }

  function fmt(text, num) { return text.replace('%(num)s', String(num)); }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // --- the outbox in IndexedDB ------------------------------------------------------------------
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var r = indexedDB.open('apn-app', 1);
        r.onupgradeneeded = function () { r.result.createObjectStore(STORE, {keyPath: 'key'}); };
        r.onsuccess = function () { resolve(r.result); };
        r.onerror = function () { reject(r.error); };
      });
    }
    return dbPromise;
  }

  function store(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var req = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(req && req.result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function allItems() {
    return store('readonly', function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.created < b.created ? -1 : 1; });
    });
  }
  function putItem(item) { return store('readwrite', function (s) { return s.put(item); }); }
  function deleteItem(key) { return store('readwrite', function (s) { return s.delete(key); }); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  // --- what is waiting ----------------------------------------------------------------------------
  var box = document.getElementById('outbox');
  var statusEl = document.getElementById('outbox-status');
  var listEl = document.getElementById('outbox-list');
  var sendBtn = document.getElementById('outbox-send');

  function render() {
    if (!box) { return Promise.resolve(); }
    return allItems().then(function (items) {
      var waiting = items.filter(function (i) { return i.state !== 'refused'; });
      box.hidden = false;
      statusEl.textContent = waiting.length ? fmt(T.waiting, waiting.length) : T.allSent;
      sendBtn.hidden = !waiting.length;
      listEl.textContent = '';
      items.forEach(function (item) {
        var li = el('li', {'data-key': item.key}, item.label);
        if (item.state === 'refused') {
          li.appendChild(document.createTextNode(' '));
          li.appendChild(el('span', {'class': 'refused'}, '✗ ' + T.refused + ' ' + item.message));
          var rm = el('button', {type: 'button', 'class': 'secondary'}, T.remove);
          rm.addEventListener('click', function () {
            if (window.confirm(T.removeConfirm)) { deleteItem(item.key).then(render); }
          });
          li.appendChild(document.createTextNode(' '));
          li.appendChild(rm);
        }
        listEl.appendChild(li);
      });
    }).catch(function () { /* no IndexedDB: nothing to show */ });
  }

  // --- sending --------------------------------------------------------------------------------------
  var syncing = null;
  // A send that fails for want of network (or a busy server) is tried again soon, then less often: coverage
  // in a sports hall comes and goes, and the browser's "online" event can come before the network works.
  // A server that answers 503 or 429 with Retry-After (its database restarting, a rate limit) is left alone
  // that long: no send before then, unless the leader asks.
  var retryDelay = 0;
  var retryTimer = null;
  var notBefore = 0;

  function retryAfterMs(r) {
    if (r.status !== 503 && r.status !== 429) { return null; }
    var v = (r.headers.get('Retry-After') || '').trim();
    var ms = /^\d+$/.test(v) ? parseInt(v, 10) * 1000 : (v ? Date.parse(v) - Date.now() : NaN);
    return isNaN(ms) ? null : Math.min(Math.max(ms, 0), 300000);
  }

  function serverSaysWait(r) {
    var ms = retryAfterMs(r);
    if (ms !== null) { notBefore = Date.now() + ms; }
  }

  function retrySoon() {
    if (retryTimer) { return; }
    retryDelay = Math.min(retryDelay ? retryDelay * 2 : 2000, 30000);
    var wait = Math.max(retryDelay, notBefore - Date.now());
    retryTimer = setTimeout(function () { retryTimer = null; sync(); }, wait);
  }

  function sendOne(item, token) {
    return fetch(item.url, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json',
        'Idempotency-Key': item.key, 'X-CSRFToken': token},
      body: item.body
    });
  }

  function sync() {
    if (syncing) { return syncing; }
    if (Date.now() < notBefore) { retrySoon(); return Promise.resolve(); }
    syncing = allItems().then(function (items) {
      var waiting = items.filter(function (i) { return i.state !== 'refused'; });
      if (!waiting.length) { return null; }
      var tokens = {};
      var chain = Promise.resolve(true);
      waiting.forEach(function (item) {
        chain = chain.then(function (go) {
          if (!go) { return false; }
          var tok = tokens[item.csrfUrl] || fetch(item.csrfUrl, {credentials: 'same-origin', cache: 'no-store',
            headers: {'Accept': 'application/json'}}).then(function (r) {
            if (r.status === 401) { throw new Error('signin'); }
            if (!r.ok) { serverSaysWait(r); throw new Error('later'); }
            return r.json().then(function (d) { return d.csrf_token; });
          });
          tokens[item.csrfUrl] = tok;
          return tok.then(function (token) { return sendOne(item, token); }).then(function (r) {
            if (r.status === 200 || r.status === 201) {
              return r.json().then(function (d) {
                return deleteItem(item.key).then(function () { showVerdict(d, item); return true; });
              });
            }
            if (r.status === 401) { throw new Error('signin'); }
            if (r.status === 403 || r.status === 404 || r.status === 422) {
              return r.json().then(function (d) {
                item.state = 'refused';
                item.message = d.message || String(r.status);
                return putItem(item).then(function () { return true; });
              });
            }
            serverSaysWait(r);
            return false; // 400 (an old token), 409, 429, 5xx: try again later (503/429: when the server says)
          });
        });
      });
      return chain;
    }).then(function (done) {
      if (done === false) { retrySoon(); } else { retryDelay = 0; }
    }).catch(function (err) {
      if (err && err.message === 'signin') { announce(T.signIn); return; }
      if (!navigator.onLine) { announce(T.offline); }
      retrySoon();
    }).then(function () {
      syncing = null;
      return render();
    });
    return syncing;
  }

  // --- the result in plain words ---------------------------------------------------------------------
  var resultEl = document.getElementById('result');

  function announce(text) {
    if (!resultEl) { return; }
    resultEl.textContent = '';
    resultEl.appendChild(el('p', {'class': 'verdict'}, text));
  }

  function showVerdict(data, item) {
    if (!resultEl) { return; }
    var v = data.verdict || {};
    var div = el('div', {'class': 'verdict verdict-' + (v.status || 'saved')});
    div.appendChild(el('p', {'class': 'headline'}, (v.status === 'not_accepted' ? '✗ ' : '✓ ') + T.sent + ' ' +
      item.label + '. ' + (v.headline || '')));
    [v.reasons || [], v.clashes || []].forEach(function (lines) {
      if (!lines.length) { return; }
      var ul = el('ul');
      lines.forEach(function (line) { ul.appendChild(el('li', {}, line)); });
      div.appendChild(ul);
    });
    if (v.facts) { div.appendChild(el('p', {'class': 'facts'}, v.facts.join(' · '))); }
    var p = el('p');
    p.appendChild(el('a', {href: data.url}, T.details));
    div.appendChild(p);
    resultEl.appendChild(div);
  }

  // --- the attendance form ----------------------------------------------------------------------------
  var form = document.getElementById('attendance-form');

  function localToday() {
    var d = new Date();
    return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
  }

  function ids(name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'), function (i) {
      return i.checked;
    }).map(function (i) { return parseInt(i.value, 10); });
  }

  function value(id) { var e = document.getElementById(id); return e ? e.value.trim() : ''; }

  function collect() {
    var fac = value('f-facility');
    var body = {
      group_id: parseInt(form.dataset.groupId, 10), date: value('f-date'), start: value('f-start'),
      stop: value('f-stop'), facility_id: fac ? parseInt(fac, 10) : null, session_type: value('f-type'),
      present: ids('p'), leaders: ids('l'), temporary_leaders: ids('tl'), disabled: ids('dis'),
      new_people: [], taken_at: new Date().toISOString()
    };
    Array.prototype.forEach.call(form.querySelectorAll('.new-entry'), function (entry, i) {
      var pnr = value('f-new-pnr-' + i);
      var first = value('f-new-first-' + i);
      var last = value('f-new-last-' + i);
      var birth = value('f-new-birth-' + i);
      if (!(pnr || first || last || birth)) { return; }
      var np = {disability: document.getElementById('f-new-dis-' + i).checked,
        temporary_leader: document.getElementById('f-new-tl-' + i).checked};
      if (pnr) { np.personnummer = pnr; } else {
        np.first_name = first; np.last_name = last; np.birth_date = birth || null;
        np.sex = value('f-new-sex-' + i) || null;
      }
      if (first && pnr) { np.first_name = first; np.last_name = last; }
      body.new_people.push(np);
    });
    return body;
  }

  function countPresent() {
    var c = document.getElementById('present-count');
    if (c) { c.textContent = '(' + fmt(T.marked, ids('p').length) + ')'; }
  }

  function clearMarks() {
    Array.prototype.forEach.call(form.querySelectorAll('input[type=checkbox]'), function (i) { i.checked = false; });
    Array.prototype.forEach.call(form.querySelectorAll('details'), function (d) { d.open = false; });
    var entries = form.querySelectorAll('.new-entry');
    for (var i = entries.length - 1; i > 0; i--) { entries[i].parentNode.removeChild(entries[i]); }
    if (entries.length) { resetEntry(entries[0], 0); }
    countPresent();
  }

  // One more "new participant" block: a copy of the last one, numbered on, emptied.
  function resetEntry(entry, i) {
    entry.dataset.index = String(i);
    entry.setAttribute('aria-label', fmt(T.newParticipant, i + 1));
    Array.prototype.forEach.call(entry.querySelectorAll('.error-text'), function (e) { e.parentNode.removeChild(e); });
    Array.prototype.forEach.call(entry.querySelectorAll('[id]'), function (e) { e.id = e.id.replace(/-\d+$/, '-' + i); });
    Array.prototype.forEach.call(entry.querySelectorAll('label[for]'), function (l) {
      l.htmlFor = l.htmlFor.replace(/-\d+$/, '-' + i);
    });
    Array.prototype.forEach.call(entry.querySelectorAll('input, select'), function (e) {
      e.removeAttribute('aria-invalid');
      if (e.getAttribute('aria-describedby') !== 'new-hint') { e.removeAttribute('aria-describedby'); }
      if (e.type === 'checkbox') { e.checked = false; e.value = String(i); } else { e.value = ''; }
    });
  }

  var addBtn = document.getElementById('f-new-add');
  if (form && addBtn) {
    addBtn.hidden = false;
    addBtn.addEventListener('click', function () {
      var entries = form.querySelectorAll('.new-entry');
      var last = entries[entries.length - 1];
      var copy = last.cloneNode(true);
      resetEntry(copy, entries.length);
      last.parentNode.insertBefore(copy, last.nextSibling);
      copy.querySelector('input').focus();  // the group's label ("New participant 2") is read out
    });
  }

  function missingField() {
    var fields = ['f-date', 'f-start', 'f-stop'];
    for (var i = 0; i < fields.length; i++) {
      if (!value(fields[i])) { return document.getElementById(fields[i]); }
    }
    return null;
  }

  if (form && !form.dataset.editing && window.indexedDB && window.fetch && window.Promise) {
    var dateEl = document.getElementById('f-date');
    if (dateEl && dateEl.dataset.today && !document.getElementById('error-summary')) { dateEl.value = localToday(); }
    form.addEventListener('change', countPresent);
    countPresent();
    form.addEventListener('submit', function (ev) {
      var missing = missingField();
      if (missing) { return; } // the server explains what is missing, with the form kept
      ev.preventDefault();
      var body = collect();
      var label = form.dataset.groupName + ' ' + body.date + ' ' + body.start + '–' + body.stop;
      var item = {key: newKey(), url: cfg.syncUrl, csrfUrl: cfg.csrfUrl, body: JSON.stringify(body), label: label,
        created: new Date().toISOString(), state: 'waiting'};
      putItem(item).then(function () {
        clearMarks();
        if (resultEl) { resultEl.textContent = ''; }
        announce(T.savedOnPhone);
        resultEl.focus();
        return sync();
      }).catch(function () { form.submit(); });
    });
  }

  // Coverage is back, or the leader asks: send now, and if that fails, start the retries over from 2 s.
  // Only the leader's own tap overrides a server's Retry-After; coverage coming back does not.
  function syncAfresh(leaderAsks) {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    retryDelay = 0;
    if (leaderAsks === true) { notBefore = 0; }
    return sync();
  }
  if (sendBtn) { sendBtn.addEventListener('click', function () { syncAfresh(true); }); }
  window.addEventListener('online', function () { syncAfresh(false); });
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { sync(); } });
  setInterval(function () { if (navigator.onLine) { sync(); } }, 30000);
  // Signing out on a shared phone: forget the copies of the pages (what is waiting stays until sent).
  document.addEventListener('submit', function (ev) {
    if (ev.target.action && /\/logout$/.test(ev.target.action) && window.caches) { caches.delete('apn-pages'); }
  });
  render().then(sync);
  window.apnApp = {sync: sync, items: allItems};
}());
