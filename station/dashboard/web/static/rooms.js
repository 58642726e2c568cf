// The rooms page, live: server-sent events replace the cards that changed. EventSource
// reconnects by itself; every connection starts with the whole list, so nothing is missed.
(function () {
  "use strict";
  var list = document.getElementById("rooms");
  var live = document.getElementById("live-status");
  var banner = document.getElementById("banner");
  var empty = document.getElementById("no-rooms");
  if (!list || !window.EventSource) { return; }
  // Durations count on the server's clock, whatever the tablet's clock says.
  var offset = parseFloat(list.dataset.now) - Date.now() / 1000;

  function say(text, state) { live.textContent = text; live.dataset.state = state; }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function tick() {
    var now = Date.now() / 1000 + offset;
    list.querySelectorAll("[data-since]").forEach(function (element) {
      element.textContent = duration(now - parseFloat(element.dataset.since));
    });
  }

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

  var source = new EventSource(list.dataset.stream);
  source.addEventListener("open", function () { say("Live: updates by itself", "live"); });
  source.addEventListener("error", function () {
    say("Live updates lost: reconnecting by itself…", "lost");
  });
  source.addEventListener("rooms", function (event) { apply(JSON.parse(event.data)); });
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/login?next=/rooms");
  });
  setInterval(tick, 15000);
}());
