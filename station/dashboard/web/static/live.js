// What the rooms page and the session console share: their server-sent event stream, which
// says on the page whether it is live (EventSource reconnects by itself, and every
// connection starts complete, so nothing is missed), and durations counted on the server's
// clock, whatever the tablet's clock says.
window.stationLive = (function () {
  "use strict";

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // Every [data-since] in `container` says how long ago its server time was, `offset`
  // being the server's clock minus this one.
  function countSince(container, offset) {
    var now = Date.now() / 1000 + offset;
    container.querySelectorAll("[data-since]").forEach(function (element) {
      element.textContent = duration(now - parseFloat(element.dataset.since));
    });
  }

  // `kind` events of the stream at `url` go to `apply` (their JSON); `tick` runs every 15 s;
  // signed out, the page goes to the login page, which returns to `back`.
  function listen(url, kind, apply, tick, back) {
    var live = document.getElementById("live-status");
    function say(text, state) { live.textContent = text; live.dataset.state = state; }
    var source = new EventSource(url);
    source.addEventListener("open", function () { say("Live: updates by itself", "live"); });
    source.addEventListener("error", function () {
      say("Live updates lost: reconnecting by itself…", "lost");
    });
    source.addEventListener(kind, function (event) { apply(JSON.parse(event.data)); });
    source.addEventListener("signed-out", function () {
      source.close();
      window.location.assign("/login?next=" + encodeURIComponent(back));
    });
    setInterval(tick, 15000);
  }

  return {countSince: countSince, listen: listen};
}());
