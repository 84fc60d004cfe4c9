/*
 * The console's browser softphone: the agent's browser registers as Twilio Client
 * "agent-<id>", which the IVR dials once the agent accepts a call offer (/voice/connect).
 * Plain script, no build step. The Twilio Voice SDK is vendored next to this file
 * (scripts/vendor.sh) and loaded only when the token route hands out a token.
 *
 * Where Twilio cannot be reached (voice not configured, tests, demos) the panel says so, and the
 * call the server rendered into it (the agent's accepted call) stays visible with its controls.
 */
(function () {
  "use strict";

  var SDK = "vendor/twilio-voice-2.18.5.min.js";
  var OFFLINE = "Phone offline: calls are not connected in this environment.";
  var REGISTER_TIMEOUT_MS = 15000;
  var script = document.currentScript;
  var base = script ? script.src : window.location.href;

  var el = {};
  var device = null;
  var call = null; // the SDK's Call, once one rings
  var ringing = false;
  var serverCall = false; // the page was rendered with the agent's accepted call
  var online = false;

  function say(text) {
    el.status.textContent = text; // role="status": announced politely
  }

  function update() {
    var hasCall = Boolean(call) || serverCall;
    el.details.hidden = !hasCall;
    el.answer.disabled = !hasCall || (Boolean(call) && !ringing);
    el.reject.hidden = !ringing;
    el.reject.disabled = !ringing;
    el.hangup.disabled = !hasCall;
    el.mute.disabled = !hasCall || ringing;
    var muted = Boolean(call) && call.isMuted();
    el.mute.setAttribute("aria-pressed", muted ? "true" : "false");
    el.mute.textContent = muted ? "Unmute" : "Mute";
  }

  function goOffline(reason) {
    online = false;
    say(reason || OFFLINE);
    update();
  }

  function notHere() {
    say(online ? "Waiting for the call to ring here…" : OFFLINE);
  }

  // An error whose message the panel shows as it is.
  function phoneError(message) {
    var error = new Error(message);
    error.phoneMessage = message;
    return error;
  }

  function fetchToken() {
    return fetch(el.panel.dataset.tokenUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (response.status === 401) {
        throw phoneError("Phone offline: you are signed out. Reload the page to sign in.");
      }
      if (!response.ok) {
        throw phoneError(OFFLINE); // 503: voice is not configured on this installation
      }
      return response.json().then(function (body) {
        return body.token;
      });
    });
  }

  function loadSdk() {
    return new Promise(function (resolve, reject) {
      if (window.Twilio && window.Twilio.Device) {
        resolve();
        return;
      }
      var tag = document.createElement("script");
      tag.src = new URL(SDK, base).href;
      tag.onload = function () {
        resolve();
      };
      tag.onerror = function () {
        reject(phoneError(OFFLINE));
      };
      document.head.appendChild(tag);
    });
  }

  function callerOf(incoming) {
    var params = incoming.parameters || {};
    return params.From || "Unknown number";
  }

  function ended(text) {
    call = null;
    ringing = false;
    serverCall = false;
    say(text);
    update();
  }

  function onIncoming(incoming) {
    call = incoming;
    ringing = true;
    el.caller.textContent = callerOf(incoming);
    say("Incoming call from " + callerOf(incoming) + ".");
    incoming.on("accept", function () {
      ringing = false;
      say("On a call with " + callerOf(incoming) + ".");
      update();
    });
    incoming.on("mute", function () {
      update();
    });
    incoming.on("disconnect", function () {
      ended("Call ended.");
    });
    incoming.on("cancel", function () {
      ended("The caller hung up.");
    });
    incoming.on("reject", function () {
      ended("Call rejected.");
    });
    update();
  }

  function startDevice(token) {
    device = new window.Twilio.Device(token, { closeProtection: true });
    var timer = window.setTimeout(function () {
      if (!online) {
        goOffline();
      }
    }, REGISTER_TIMEOUT_MS);
    device.on("registered", function () {
      window.clearTimeout(timer);
      online = true;
      if (!call) {
        say("Phone ready: calls ring here.");
      }
    });
    device.on("unregistered", function () {
      goOffline();
    });
    device.on("error", function () {
      goOffline();
    });
    device.on("incoming", onIncoming);
    device.on("tokenWillExpire", function () {
      fetchToken()
        .then(function (fresh) {
          device.updateToken(fresh);
        })
        .catch(function (error) {
          goOffline(error && error.phoneMessage);
        });
    });
    return device.register();
  }

  function wire() {
    el.answer.addEventListener("click", function () {
      if (call && ringing) {
        call.accept();
      } else {
        notHere();
      }
    });
    el.reject.addEventListener("click", function () {
      if (call && ringing) {
        call.reject();
      }
    });
    el.hangup.addEventListener("click", function () {
      if (!call) {
        notHere();
      } else if (ringing) {
        call.reject();
      } else {
        call.disconnect();
      }
    });
    el.mute.addEventListener("click", function () {
      if (!call) {
        notHere();
        return;
      }
      call.mute(!call.isMuted());
      say(call.isMuted() ? "Muted: the caller cannot hear you." : "Unmuted.");
      update();
    });
  }

  function start() {
    el.panel = document.getElementById("phone");
    if (!el.panel) {
      return; // signed out: no panel
    }
    el.status = document.getElementById("phone-status");
    el.details = document.getElementById("phone-call");
    el.caller = document.getElementById("phone-caller");
    el.answer = document.getElementById("phone-answer");
    el.reject = document.getElementById("phone-reject");
    el.hangup = document.getElementById("phone-hangup");
    el.mute = document.getElementById("phone-mute");
    serverCall = Boolean(el.panel.dataset.callId);
    wire();
    update();
    say(serverCall ? "Phone: connecting to take your call…" : "Phone: connecting…");
    fetchToken()
      .then(function (token) {
        return loadSdk().then(function () {
          return startDevice(token);
        });
      })
      .catch(function (error) {
        goOffline(error && error.phoneMessage); // the Device failed to start: offline too
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
