// The session console, live: server-sent events (live.js) replace the state and the feed,
// switch the controls on and off, and turn each command's "sent" into "done" or the
// station's words.
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root || !window.EventSource || !window.stationLive) { return; }
  var banner = document.getElementById("banner");
  var summary = document.getElementById("console-summary");
  var feed = document.getElementById("console-feed");
  var controls = document.querySelectorAll(".controls");
  var controlsOff = document.getElementById("controls-off");
  var observeHint = document.getElementById("observe-hint");
  var offset = parseFloat(root.dataset.now) - Date.now() / 1000;
  var waiting = {};  // command id -> its status element
  var latest = {};  // command id -> what the last event said of it (it may beat the reply)

  function tick() { window.stationLive.countSince(summary, offset); }

  function show(element, text, outcome) {
    if (!element) { return; }
    element.textContent = text;
    element.dataset.outcome = outcome;
  }

  function session(running) {
    root.dataset.session = running ? "on" : "off";
    document.querySelectorAll("[data-when-session]").forEach(function (form) {
      form.hidden = form.dataset.whenSession !== root.dataset.session;
    });
    document.querySelectorAll("[data-needs-session]").forEach(function (button) {
      button.disabled = !running;
    });
    if (observeHint) { observeHint.hidden = running; }
  }

  // Start or Stop recording, as the station last said; both until it has said.
  function recording(state) {
    root.dataset.recording = state;
    document.querySelectorAll("[data-when-recording]").forEach(function (form) {
      form.hidden = state !== "unknown" && form.dataset.whenRecording !== state;
    });
  }

  function enable(on) {
    root.dataset.controls = on ? "on" : "off";
    controls.forEach(function (fieldset) { fieldset.disabled = !on; });
    if (controlsOff) { controlsOff.hidden = on; }
  }

  function apply(data) {
    banner.innerHTML = data.banner;
    if (!data.allowed) {
      enable(false);
      summary.innerHTML = "";
      var note = document.createElement("p");
      note.className = "error";
      note.textContent = data.message;
      summary.appendChild(note);
      feed.innerHTML = "";
      return;
    }
    if (data.unavailable) { enable(false); return; }
    if (data.now) { offset = data.now - Date.now() / 1000; }
    if (summary.innerHTML !== data.summary) { summary.innerHTML = data.summary; }
    if (feed.innerHTML !== data.feed) { feed.innerHTML = data.feed; }
    enable(data.controls);
    root.dataset.online = data.online ? "on" : "off";
    session(data.session);
    recording(data.recording);
    Object.keys(data.settings).forEach(function (id) {
      var field = document.getElementById(id);
      var value = data.settings[id];
      if (field && value !== null && value !== "" && field !== document.activeElement &&
          field.dataset.edited !== "yes") {
        field.value = String(value);
      }
    });
    data.commands.forEach(function (command) {
      latest[command.id] = command;
      if (waiting[command.id] && command.outcome !== "sent") {
        show(waiting[command.id], command.words, command.outcome);
        delete waiting[command.id];
      }
    });
    tick();
  }

  // Ending a session by a stray tap would cut it in two: the first tap asks for a second
  // one within 5 s.
  function confirmed(form) {
    var button = form.querySelector("button");
    if (form.dataset.armed === "yes") {
      form.dataset.armed = "";
      button.textContent = form.dataset.label;
      return true;
    }
    form.dataset.label = button.textContent;
    form.dataset.armed = "yes";
    button.textContent = form.dataset.confirm;
    setTimeout(function () {
      if (form.dataset.armed === "yes") {
        form.dataset.armed = "";
        button.textContent = form.dataset.label;
      }
    }, 5000);
    return false;
  }

  function problemOf(response, text) {
    try { return JSON.parse(text).error; } catch (ignored) { /* an HTML page */ }
    var page = new DOMParser().parseFromString(text, "text/html");
    var message = page.querySelector(".message, .error");
    return message ? message.textContent : "Not sent (" + response.status + "). Reload the page.";
  }

  // A client or sound set picked but not yet sent stays picked: a live update in between
  // would otherwise put back the station's one, and "Choose" would send that.
  document.querySelectorAll("form[data-command] select, form[data-command] input").forEach(
    function (field) {
      field.addEventListener("input", function () { field.dataset.edited = "yes"; });
    });

  document.querySelectorAll("form[data-command]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.confirm && !confirmed(form)) { return; }
      var status = form.dataset.status ? document.getElementById(form.dataset.status)
        : form.querySelector(".command-status");
      var body = new FormData(form);
      form.querySelectorAll("[data-edited]").forEach(function (field) {
        delete field.dataset.edited;  // sent: it follows the station again
      });
      if (event.submitter && event.submitter.name) {
        body.append(event.submitter.name, event.submitter.value);
      }
      show(status, "Sending…", "sending");
      // A button with its own formaction (the cue's "Stop waiting") sends that command.
      var action = event.submitter && event.submitter.hasAttribute("formaction")
        ? event.submitter.formAction : form.action;
      fetch(action, {method: "POST", body: body, credentials: "same-origin",
                          headers: {"Accept": "application/json"}})
        .then(function (response) {
          return response.text().then(function (text) {
            if (response.status === 202) {
              var sent = JSON.parse(text);
              var known = latest[sent.id];
              if (known && known.outcome !== "sent") {
                show(status, known.words, known.outcome);
              } else {
                show(status, sent.words, sent.outcome);
                waiting[sent.id] = status;
              }
              if (form.id === "observe-form") { form.querySelector("#note").value = ""; }
            } else {
              show(status, problemOf(response, text), "refused");
            }
          });
        })
        .catch(function () {
          show(status, "The dashboard could not be reached; nothing was sent. Try again.",
               "refused");
        });
    });
  });

  // Enter in the note sends the note alone, never an implicit "independent".
  var note = document.getElementById("note");
  if (note) {
    note.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      note.form.requestSubmit(note.form.querySelector("button:not([name])"));
    });
  }

  session(root.dataset.session === "on");
  window.stationLive.listen(root.dataset.stream, "console", apply, tick,
                            window.location.pathname);
}());
