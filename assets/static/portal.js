// Customer portal: show the chosen help topic's custom fields. Without this
// script the form still works: the server shows the chosen topic's fields
// when the form is sent with another topic.
(function () {
  'use strict';
  var form = document.querySelector('[data-portal-open]');
  if (!form) return;
  var select = form.querySelector('[data-topic-select]');
  var shown = form.querySelector('[data-shown-topic]');
  if (!select || !shown) return;
  function update() {
    var topic = select.value;
    form.querySelectorAll('fieldset[data-topic]').forEach(function (fs) {
      var on = fs.getAttribute('data-topic') === topic;
      fs.hidden = !on;
      fs.disabled = !on;
    });
    // Every topic's fields are in the page now: the server may check the
    // chosen topic's fields right away.
    shown.value = topic;
  }
  select.addEventListener('change', update);
  update();
})();
