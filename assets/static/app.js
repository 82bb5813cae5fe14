// Oxidesk staff UI: progressive enhancement only. Every page works without
// this script; it adds shortcuts, bulk selection, canned responses, reply
// locks and the "thread changed" warning.
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  var csrf = document.body.getAttribute('data-csrf') || '';

  function post(url) {
    return fetch(url, { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }
  function typing(el) {
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
  }

  // Mobile navigation.
  var toggle = document.querySelector('[data-toggle-nav]');
  if (toggle) toggle.addEventListener('click', function () {
    document.getElementById('sidenav').classList.toggle('open');
  });

  // Confirmations.
  document.querySelectorAll('[data-confirm]').forEach(function (b) {
    b.addEventListener('click', function (e) {
      if (!window.confirm(b.getAttribute('data-confirm'))) e.preventDefault();
    });
  });

  // Selects that save on change.
  document.querySelectorAll('[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  // Queue: row selection, bulk bar, keyboard navigation.
  var queue = document.querySelector('[data-queue]');
  if (queue) {
    var boxes = Array.prototype.slice.call(queue.querySelectorAll('tbody input[name=ids]'));
    var bar = document.querySelector('[data-bulkbar]');
    var all = queue.querySelector('[data-check-all]');
    var sync = function () {
      var n = 0;
      boxes.forEach(function (b) { b.closest('tr').classList.toggle('selected', b.checked); if (b.checked) n++; });
      if (bar) bar.classList.toggle('active', n > 0);
    };
    boxes.forEach(function (b) { b.addEventListener('change', sync); });
    if (all) all.addEventListener('change', function () { boxes.forEach(function (b) { b.checked = all.checked; }); sync(); });
    var action = document.querySelector('[data-bulk-action]');
    var value = document.querySelector('[data-bulk-value]');
    var showGroup = function () {
      if (!action || !value) return;
      var first = null;
      value.querySelectorAll('optgroup').forEach(function (g) {
        var on = g.getAttribute('data-for') === action.value;
        g.hidden = !on; g.disabled = !on;
        if (on && !first) first = g.querySelector('option');
      });
      value.hidden = action.value === 'delete';
      if (first) value.value = first.value;
    };
    if (action) { action.addEventListener('change', showGroup); showGroup(); }
    var rows = Array.prototype.slice.call(queue.querySelectorAll('tbody tr[data-href]'));
    // Remember this page's order so j/k on a ticket walk the same list.
    try { sessionStorage.setItem('oxd.queue', JSON.stringify(rows.map(function (r) { return r.getAttribute('data-href'); }))); } catch (err) { /* storage off */ }
    var cur = -1;
    var mark = function (i) {
      if (!rows.length) return;
      if (cur >= 0) rows[cur].classList.remove('kbd');
      cur = Math.max(0, Math.min(rows.length - 1, i));
      rows[cur].classList.add('kbd');
      rows[cur].scrollIntoView({ block: 'nearest' });
    };
    document.addEventListener('keydown', function (e) {
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'j') mark(cur + 1);
      else if (e.key === 'k') mark(cur - 1);
      else if ((e.key === 'o' || e.key === 'Enter') && cur >= 0) location.href = rows[cur].getAttribute('data-href');
      else if (e.key === 'x' && cur >= 0) { var b = rows[cur].querySelector('input[name=ids]'); b.checked = !b.checked; sync(); }
    });
  }

  // "/" or "s" focuses search.
  document.addEventListener('keydown', function (e) {
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '/' || e.key === 's') {
      var q = document.querySelector('.search input');
      if (q) { e.preventDefault(); q.focus(); }
    }
  });

  // Ticket page.
  var ticket = document.querySelector('[data-ticket]');
  if (!ticket) return;
  var id = ticket.getAttribute('data-ticket');
  var loaded = parseInt(ticket.getAttribute('data-last-entry'), 10) || 0;
  var lockSecs = parseInt(ticket.getAttribute('data-lock-secs'), 10) || 120;
  var lockBanner = document.querySelector('[data-lock-banner]');
  var changedBanner = document.querySelector('[data-changed-banner]');
  var tabs = document.querySelectorAll('[data-tab]');
  var show = function (name) {
    // Roles may hide the reply or note pane; keys for a missing one do nothing.
    if (!document.querySelector('[data-tab=' + name + ']')) return false;
    tabs.forEach(function (t) { t.setAttribute('aria-selected', t.getAttribute('data-tab') === name ? 'true' : 'false'); });
    document.querySelectorAll('[data-pane]').forEach(function (p) { p.hidden = p.getAttribute('data-pane') !== name; });
    var ta = document.querySelector('[data-pane=' + name + '] textarea');
    if (ta) ta.focus();
  };
  tabs.forEach(function (t) { t.addEventListener('click', function () { show(t.getAttribute('data-tab')); }); });
  document.addEventListener('keydown', function (e) {
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'r' || e.key === 'n') {
      if (show(e.key === 'r' ? 'reply' : 'note') === false) return;
      e.preventDefault(); document.getElementById('compose').scrollIntoView({ block: 'center' });
    }
    else if (e.key === 'u') { history.length > 1 ? history.back() : (location.href = '/queues/open'); }
    else if (e.key === 'j' || e.key === 'k') {
      var list = [];
      try { list = JSON.parse(sessionStorage.getItem('oxd.queue') || '[]'); } catch (err) { list = []; }
      var at = list.indexOf('/tickets/' + id);
      var to = at < 0 ? -1 : at + (e.key === 'j' ? 1 : -1);
      if (to >= 0 && to < list.length) location.href = list[to];
    }
  });

  var apply = function (state) {
    if (!state) return;
    if (lockBanner) {
      if (state.locked_by) { lockBanner.textContent = lockBanner.getAttribute('data-template') ? lockBanner.getAttribute('data-template').replace('{name}', state.locked_by) : state.locked_by; lockBanner.hidden = false; }
      else lockBanner.hidden = true;
    }
    if (changedBanner && state.last_entry > loaded) changedBanner.hidden = false;
  };
  if (lockBanner) lockBanner.setAttribute('data-template', lockBanner.getAttribute('data-name-template') || '');

  // The reply lock: taken when the agent starts typing, renewed while the
  // draft is being written, released when the page is left.
  var body = document.querySelector('[data-reply-body]');
  var lastLock = 0;
  var lock = function () {
    var now = Date.now();
    if (now - lastLock < (lockSecs * 1000) / 3) return;
    lastLock = now;
    post('/tickets/' + id + '/lock').then(apply);
  };
  if (body) body.addEventListener('input', lock);
  window.addEventListener('pagehide', function () {
    if (lastLock && navigator.sendBeacon) {
      var fd = new FormData(); fd.append('_csrf', csrf);
      navigator.sendBeacon('/tickets/' + id + '/unlock', fd);
    }
  });
  setInterval(function () {
    fetch('/tickets/' + id + '/state', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; }).then(apply).catch(function () {});
  }, 20000);

  // Warn before sending when the thread changed since the page loaded.
  var form = document.querySelector('[data-reply-form]');
  if (form) form.addEventListener('submit', function (e) {
    if (form.getAttribute('data-checked') === '1') return;
    e.preventDefault();
    fetch('/tickets/' + id + '/state', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.last_entry > loaded) {
          apply(s);
          if (!window.confirm(changedBanner ? changedBanner.textContent.trim() : 'The thread changed.')) return;
          var c = document.createElement('input'); c.type = 'hidden'; c.name = 'confirm_changed'; c.value = 'true'; form.appendChild(c);
        }
        form.setAttribute('data-checked', '1');
        form.submit();
      })
      .catch(function () { form.setAttribute('data-checked', '1'); form.submit(); });
  });

  // Canned responses: insert at the cursor.
  var canned = document.querySelector('[data-canned]');
  if (canned && body) canned.addEventListener('change', function () {
    var opt = canned.options[canned.selectedIndex];
    var text = opt && opt.getAttribute('data-body');
    if (text) {
      var s = body.selectionStart || 0, en = body.selectionEnd || 0;
      body.value = body.value.slice(0, s) + text + body.value.slice(en);
      body.focus(); body.selectionStart = body.selectionEnd = s + text.length;
      lock();
    }
    canned.value = '';
  });
})();
