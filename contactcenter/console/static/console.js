/*
 * The console's realtime layer: the server pushes ids over Socket.IO, and the page fetches what
 * it shows through its own signed-in routes (no resident data travels on the socket).
 * Plain script, no build step. The Socket.IO client is vendored next to this file
 * (scripts/vendor.sh) and loaded from here, so the templates need no extra tag.
 */
(function () {
  "use strict";

  var CLIENT = "vendor/socket.io-4.8.4.min.js";
  var script = document.currentScript;
  var base = script ? script.src : window.location.href;
  var status = null;

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function loadClient(then) {
    if (window.io) {
      then();
      return;
    }
    var tag = document.createElement("script");
    tag.src = new URL(CLIENT, base).href;
    tag.onload = then;
    document.head.appendChild(tag);
  }

  function showStatus(text) {
    if (!status) {
      status = document.createElement("p");
      status.className = "flash realtime-status";
      status.setAttribute("role", "status");
      var main = document.getElementById("main") || document.body;
      main.insertBefore(status, main.firstChild);
    }
    status.textContent = text;
    status.hidden = !text;
  }

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(
      function (response) {
        return response.ok ? response.text() : null;
      }
    );
  }

  function updateEmptyNote() {
    var list = document.getElementById("offers");
    var empty = document.getElementById("no-offers");
    if (list && empty) {
      empty.hidden = list.children.length > 0;
    }
  }

  // A short two-note chime (Web Audio, no sound file). Browsers may keep audio muted until
  // the agent has interacted with the page; the visible and announced offer is what counts.
  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    try {
      var audio = chime.context || (chime.context = new Context());
      var now = audio.currentTime;
      [880, 1320].forEach(function (frequency, index) {
        var tone = audio.createOscillator();
        var gain = audio.createGain();
        var start = now + index * 0.15;
        tone.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.14);
        tone.connect(gain).connect(audio.destination);
        tone.start(start);
        tone.stop(start + 0.15);
      });
    } catch (ignored) {
      // No sound is no reason to lose the offer.
    }
  }

  function onOffer(data) {
    var list = document.getElementById("offers");
    var id = Number(data && data.offer_id);
    if (!list || !id || document.getElementById("offer-" + id)) {
      return;
    }
    fetchHtml(new URL("../offers/" + id, base).href).then(function (html) {
      if (!html || document.getElementById("offer-" + id)) {
        return; // gone already, or another event put it there first
      }
      var holder = document.createElement("template");
      holder.innerHTML = html.trim();
      var item = holder.content.firstElementChild;
      if (!item || item.id !== "offer-" + id) {
        return;
      }
      // #offers is aria-live="polite": adding the card is what announces it.
      list.insertBefore(item, list.firstChild);
      updateEmptyNote();
      chime();
    });
  }

  function onOfferGone(data) {
    var item = document.getElementById("offer-" + Number(data && data.offer_id));
    if (item) {
      item.remove();
      updateEmptyNote();
    }
  }

  function currentCaseId() {
    var fromPage = document.body.dataset.caseId;
    if (fromPage) {
      return Number(fromPage);
    }
    var match = window.location.pathname.match(/\/console\/cases\/(\d+)\/?$/);
    return match ? Number(match[1]) : null;
  }

  function onCaseUpdated(data) {
    var timeline = document.getElementById("timeline");
    if (!timeline || !data || Number(data.case_id) !== currentCaseId()) {
      return;
    }
    fetchHtml(window.location.pathname).then(function (html) {
      if (!html) {
        return;
      }
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("timeline");
      if (fresh) {
        timeline.innerHTML = fresh.innerHTML;
      }
    });
  }

  // Web chat: "Resident is typing…" under the timeline, and the agent's own typing in the
  // reply box goes to the resident's window (never while writing an internal note).
  function wireChatTyping(socket) {
    var note = document.getElementById("resident-typing");
    var caseId = currentCaseId();
    if (!note || !caseId) {
      return;
    }
    var hideTimer = null;
    var idleTimer = null;
    var lastSent = 0;

    function showResidentTyping(on) {
      clearTimeout(hideTimer);
      note.textContent = on ? "Resident is typing…" : "";
      if (on) {
        // A lost "stopped" never leaves the line on for good.
        hideTimer = setTimeout(function () {
          note.textContent = "";
        }, 8000);
      }
    }

    function sendTyping(on) {
      clearTimeout(idleTimer);
      if (!socket.connected) {
        return;
      }
      if (on) {
        idleTimer = setTimeout(function () {
          sendTyping(false);
        }, 4000);
        if (Date.now() - lastSent < 3000) {
          return;
        }
        lastSent = Date.now();
      } else if (!lastSent) {
        return;
      } else {
        lastSent = 0;
      }
      socket.emit("chat_typing", { case_id: caseId, typing: on });
    }

    socket.on("chat_typing", function (data) {
      if (data && Number(data.case_id) === caseId) {
        showResidentTyping(Boolean(data.typing));
      }
    });
    socket.on("case_updated", function (data) {
      if (data && Number(data.case_id) === caseId) {
        showResidentTyping(false); // their message arrived
      }
    });
    var box = document.getElementById("reply-body");
    if (!box) {
      return;
    }
    var internal = document.getElementById("reply-internal");
    box.addEventListener("input", function () {
      sendTyping(Boolean(box.value) && !(internal && internal.checked));
    });
    box.addEventListener("blur", function () {
      sendTyping(false);
    });
    if (internal) {
      internal.addEventListener("change", function () {
        if (internal.checked) {
          sendTyping(false);
        }
      });
    }
    if (box.form) {
      box.form.addEventListener("submit", function () {
        sendTyping(false);
      });
    }
  }

  function connect() {
    // WebSocket only: no long-polling, so any web process can hold the connection.
    var socket = window.io({ transports: ["websocket"] });
    socket.on("connect", function () {
      showStatus("");
    });
    socket.on("disconnect", function () {
      showStatus("Reconnecting…"); // the client retries by itself
    });
    socket.on("connect_error", function () {
      // Refused (signed out, say): the client stops trying, so say how to get back.
      showStatus(socket.active ? "Reconnecting…" : "Live updates stopped: reload the page.");
    });
    socket.on("offer", onOffer);
    socket.on("offer_gone", onOfferGone);
    socket.on("case_updated", onCaseUpdated);
    wireChatTyping(socket);
    // Signed out (here or in another browser): this console's session is over.
    socket.on("signed_out", function () {
      socket.disconnect();
      window.location.assign(new URL("../login", base).href);
    });
    // Page scripts (wallboard.js) hear this as a DOM event: the socket stays owned here.
    socket.on("board_changed", function (data) {
      document.dispatchEvent(new CustomEvent("console:board_changed", { detail: data }));
    });
  }

  onReady(function () {
    if (!document.querySelector(".sign-out")) {
      return; // the sign-in page: nobody to connect as
    }
    loadClient(connect);
  });
})();
