// Filter edit form: add and remove condition/action rows, and show the
// header-name and note inputs only where they apply. Without this script
// the form offers a few empty rows and every input, and works the same.
(function () {
  'use strict';
  var form = document.querySelector('[data-filter-form]');
  if (!form) return;

  function blank(row) {
    var filled = false;
    row.querySelectorAll('input[type=text]').forEach(function (i) { if (i.value.trim() !== '') filled = true; });
    var action = row.querySelector('[data-action]');
    if (action && action.value !== '') filled = true;
    return !filled;
  }

  function sync(row) {
    var field = row.querySelector('[data-field]');
    var header = row.querySelector('[data-header]');
    if (field && header) header.hidden = field.value !== 'header';
    var action = row.querySelector('[data-action]');
    var note = row.querySelector('[data-note]');
    if (action && note) note.hidden = action.value.indexOf('add_note:') !== 0;
  }

  function wire(row, box) {
    sync(row);
    row.querySelectorAll('select').forEach(function (s) {
      s.addEventListener('change', function () { sync(row); });
    });
    var rm = row.querySelector('[data-remove-row]');
    if (rm) {
      rm.hidden = false;
      rm.addEventListener('click', function () {
        if (box.querySelectorAll('[data-row]').length > 1) {
          row.remove();
        } else {
          clear(row);
        }
      });
    }
  }

  function clear(row) {
    row.querySelectorAll('input[type=text]').forEach(function (i) { i.value = ''; i.removeAttribute('aria-invalid'); });
    row.querySelectorAll('select').forEach(function (s) { s.selectedIndex = 0; });
    row.querySelectorAll('.flash').forEach(function (p) { p.remove(); });
    sync(row);
  }

  form.querySelectorAll('[data-rows]').forEach(function (box) {
    var rows = Array.prototype.slice.call(box.querySelectorAll('[data-row]'));
    // Only filled rows (or one empty row) stay: the "add" button makes more.
    var filled = rows.filter(function (r) { return !blank(r); });
    rows.forEach(function (row) {
      var keep = filled.length ? filled.indexOf(row) >= 0 : row === rows[0];
      if (keep) wire(row, box); else row.remove();
    });
    var add = form.querySelector('[data-add-row="' + box.getAttribute('data-rows') + '"]');
    if (!add) return;
    add.hidden = false;
    add.addEventListener('click', function () {
      var first = box.querySelector('[data-row]');
      if (!first) return;
      var row = first.cloneNode(true);
      clear(row);
      box.appendChild(row);
      wire(row, box);
      var focus = row.querySelector('select, input');
      if (focus) focus.focus();
    });
  });
})();
