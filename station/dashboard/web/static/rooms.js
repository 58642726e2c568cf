// The rooms page, live: server-sent events (live.js) replace the cards that changed; every
// connection starts with the whole list.
(function () {
  "use strict";
  var list = document.getElementById("rooms");
  var banner = document.getElementById("banner");
  var empty = document.getElementById("no-rooms");
  if (!list || !window.EventSource || !window.stationLive) { return; }
  // Durations count on the server's clock, whatever the tablet's clock says.
  var offset = parseFloat(list.dataset.now) - Date.now() / 1000;

  function tick() { window.stationLive.countSince(list, offset); }

  function card(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function apply(data) {
    banner.innerHTML = data.banner;
    if (data.now) { offset = data.now - Date.now() / 1000; }
    if (data.rooms === null) { return; }
    var wanted = data.rooms.map(function (room) { return room.id; });
    Array.prototype.slice.call(list.children).forEach(function (old) {
      if (wanted.indexOf(old.id) < 0) { old.remove(); }
    });
    var previous = null;
    data.rooms.forEach(function (room) {
      var fresh = card(room.html);
      var old = document.getElementById(room.id);
      if (old && old.outerHTML === fresh.outerHTML) {
        fresh = old;
      } else if (old) {
        var focused = old.contains(document.activeElement) ? document.activeElement : null;
        old.replaceWith(fresh);
        if (focused && focused.getAttribute("href")) {
          var again = fresh.querySelector('[href="' + focused.getAttribute("href") + '"]');
          if (again) { again.focus(); }
        }
      }
      if (previous === null) {
        if (list.firstElementChild !== fresh) { list.prepend(fresh); }
      } else if (previous.nextElementSibling !== fresh) {
        previous.after(fresh);
      }
      previous = fresh;
    });
    empty.hidden = data.rooms.length > 0;
    tick();
  }

  window.stationLive.listen(list.dataset.stream, "rooms", apply, tick, "/rooms");
}());
