/*
 * The 3-1-1 chat loader: the one script a city puts on its pages.
 *
 *   <script src="https://311.example.org/chat/widget.js" data-key="PUBLIC_KEY"
 *           data-language="fr" async></script>
 *
 * It adds a launcher button and, when pressed, an iframe with the chat panel served by the
 * contact center (the origin this script came from). Nothing else of the host page is touched:
 * no stylesheet (styles are set on the two elements, which a strict CSP allows), no globals
 * but one guard, and messages from the frame are trusted only from that frame and origin.
 * No dependencies, no build step.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__ccChat311) {
    return; // included twice: one launcher is enough
  }
  window.__ccChat311 = true;

  var LABELS = {
    en: {
      open: "Chat with 3-1-1",
      unread: "{n} new",
      title: "3-1-1 chat",
      news: "New message in the 3-1-1 chat.",
    },
    fr: {
      open: "Clavarder avec le 3-1-1",
      unread: "{n} nouveau(x)",
      title: "Clavardage 3-1-1",
      news: "Nouveau message dans le clavardage 3-1-1.",
    },
    es: {
      open: "Chatear con el 3-1-1",
      unread: "{n} nuevo(s)",
      title: "Chat 3-1-1",
      news: "Nuevo mensaje en el chat 3-1-1.",
    },
  };
  var SMALL = "(max-width: 600px)";
  var USED_KEY = "cc-chat-used";
  // What the frame may ask this page to keep when its own storage is blocked (see chat.js).
  var FRAME_KEYS = ["cc-chat-token", "cc-chat-outbox", "cc-chat-intake-id", "cc-chat-draft"];
  var FRAME_PREFIX = "cc-chat-frame:";
  // Any script of this page's site can read its storage: the resident's contact details are
  // never kept here (the frame leaves them out already; this holds for older frames too).
  var DRAFT_KEY = "cc-chat-draft";
  var PERSONAL_FIELDS = ["address", "phone", "email", "name"];
  var MAX_VALUE = 200000;
  var Z = "2147483000";

  var source = new URL(script.src, window.location.href);
  var origin = source.origin;
  var key = script.getAttribute("data-key") || "";
  var language = (script.getAttribute("data-language") || document.documentElement.lang || "en")
    .slice(0, 2)
    .toLowerCase();
  var labels = LABELS[language] || LABELS.en;
  var small = window.matchMedia ? window.matchMedia(SMALL) : { matches: false };

  var launcher = null;
  var status = null; // a live region: screen readers hear of replies while the panel is closed
  var frame = null;
  var frameReady = false;
  var isOpen = false;
  var unread = 0;

  function css(element, styles) {
    Object.keys(styles).forEach(function (name) {
      element.style.setProperty(name, styles[name], "important");
    });
  }

  function remember(used) {
    try {
      if (used) {
        window.sessionStorage.setItem(USED_KEY, "1");
      }
      return window.sessionStorage.getItem(USED_KEY) === "1";
    } catch (refused) {
      return false;
    }
  }

  function withoutPersonal(value) {
    try {
      var draft = JSON.parse(value);
      var values = draft && draft.values && typeof draft.values === "object" ? draft.values : {};
      PERSONAL_FIELDS.forEach(function (name) {
        delete values[name];
      });
      return JSON.stringify({ values: values, focus: draft.focus || null });
    } catch (broken) {
      return null;
    }
  }

  function keepForFrame(key, value) {
    if (FRAME_KEYS.indexOf(key) < 0) {
      return;
    }
    if (key === DRAFT_KEY && typeof value === "string") {
      value = withoutPersonal(value);
    }
    try {
      if (typeof value === "string" && value.length <= MAX_VALUE) {
        window.sessionStorage.setItem(FRAME_PREFIX + key, value);
      } else if (value === null) {
        window.sessionStorage.removeItem(FRAME_PREFIX + key);
      }
    } catch (refused) {
      // Nowhere to keep it: a reload will start the chat over.
    }
  }

  function keptForFrame() {
    var values = {};
    FRAME_KEYS.forEach(function (name) {
      try {
        var value = window.sessionStorage.getItem(FRAME_PREFIX + name);
        if (value !== null) {
          values[name] = value;
        }
      } catch (refused) {
        // nothing kept
      }
    });
    return values;
  }

  function frameUrl() {
    var url = new URL("frame", source);
    url.search = "";
    url.searchParams.set("key", key);
    url.searchParams.set("lang", language);
    return url.href;
  }

  function post(action, extra) {
    if (frame && frame.contentWindow && frameReady) {
      var message = { type: "cc-chat", action: action };
      Object.keys(extra || {}).forEach(function (name) {
        message[name] = extra[name];
      });
      frame.contentWindow.postMessage(message, origin);
    }
  }

  function updateLauncher() {
    launcher.textContent = unread
      ? labels.open + " (" + labels.unread.replace("{n}", String(unread)) + ")"
      : labels.open;
    launcher.setAttribute("aria-expanded", isOpen ? "true" : "false");
    // On a phone the open panel covers the page, the launcher with it.
    css(launcher, { display: isOpen && small.matches ? "none" : "inline-block" });
  }

  function placeFrame() {
    if (!frame) {
      return;
    }
    var common = {
      position: "fixed",
      border: "0",
      margin: "0",
      padding: "0",
      background: "#ffffff",
      "z-index": Z,
      display: isOpen ? "block" : "none",
      "color-scheme": "normal",
    };
    var place = small.matches
      ? {
          top: "0",
          left: "0",
          right: "0",
          bottom: "0",
          width: "100%",
          height: "100%",
          "max-width": "none",
          "max-height": "none",
          "border-radius": "0",
          "box-shadow": "none",
        }
      : {
          top: "auto",
          left: "auto",
          right: "16px",
          bottom: "80px",
          width: "380px",
          height: "600px",
          "max-width": "calc(100vw - 32px)",
          "max-height": "calc(100vh - 96px)",
          "border-radius": "12px",
          "box-shadow": "0 4px 24px rgba(0, 0, 0, 0.3)",
        };
    css(frame, Object.assign(common, place));
  }

  function makeFrame() {
    if (frame) {
      return;
    }
    frame = document.createElement("iframe");
    frame.id = "cc-chat-frame";
    frame.title = labels.title;
    frame.src = frameUrl();
    frame.addEventListener("load", function () {
      var first = !frameReady;
      frameReady = true;
      if (isOpen) {
        // The first load finishes an "open" the frame could not hear yet: focus goes in.
        // Later loads (the frame reloaded itself, to change language) only say it is open,
        // and the frame puts the focus back where it was.
        post("open", { focus: first });
        if (!first && document.activeElement === frame) {
          frame.contentWindow.focus();
        }
      }
    });
    placeFrame();
    document.body.appendChild(frame);
    launcher.setAttribute("aria-controls", frame.id);
  }

  function open() {
    remember(true);
    makeFrame();
    isOpen = true;
    unread = 0;
    status.textContent = "";
    placeFrame();
    updateLauncher();
    frame.focus(); // focus moves into the panel; the frame picks the field on "open"
    post("open");
  }

  function close() {
    if (!isOpen) {
      return;
    }
    isOpen = false;
    placeFrame();
    updateLauncher();
    post("close");
    launcher.focus();
  }

  function onMessage(event) {
    var data = event.data;
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) {
      return;
    }
    if (!data || data.type !== "cc-chat") {
      return;
    }
    if (data.action === "close") {
      close();
    } else if (data.action === "store") {
      keepForFrame(String(data.key), data.value);
    } else if (data.action === "storage-request") {
      // Only to our frame's origin: these values include the chat's session token.
      frame.contentWindow.postMessage(
        { type: "cc-chat", action: "storage", values: keptForFrame() },
        origin
      );
    } else if (data.action === "unread") {
      var count = isOpen ? 0 : Math.max(0, Math.min(99, Number(data.count) || 0));
      if (count > unread) {
        status.textContent = "";
        status.textContent = labels.news;
      }
      unread = count;
      updateLauncher();
    }
  }

  function setFocusRing(on) {
    css(launcher, {
      outline: on ? "3px solid #0b0c0c" : "none",
      "box-shadow": on ? "0 0 0 6px #ffdd00" : "0 2px 12px rgba(0, 0, 0, 0.3)",
    });
  }

  function start() {
    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.id = "cc-chat-launcher";
    css(launcher, {
      position: "fixed",
      right: "16px",
      bottom: "16px",
      "z-index": Z,
      margin: "0",
      padding: "12px 20px",
      "min-height": "48px",
      border: "2px solid #ffffff",
      "border-radius": "24px",
      background: "#0b5394",
      color: "#ffffff",
      font: "600 16px/1.25 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
      cursor: "pointer",
      "outline-offset": "2px",
    });
    setFocusRing(false);
    launcher.addEventListener("focus", function () {
      setFocusRing(true);
    });
    launcher.addEventListener("blur", function () {
      setFocusRing(false);
    });
    launcher.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen) {
        close();
      }
    });
    launcher.addEventListener("click", function () {
      if (isOpen) {
        close();
      } else {
        open();
      }
    });
    status = document.createElement("span");
    status.setAttribute("role", "status");
    css(status, {
      position: "absolute",
      width: "1px",
      height: "1px",
      margin: "-1px",
      padding: "0",
      overflow: "hidden",
      clip: "rect(0 0 0 0)",
      "white-space": "nowrap",
      border: "0",
    });
    updateLauncher();
    document.body.appendChild(launcher);
    document.body.appendChild(status);
    window.addEventListener("message", onMessage);
    var onResize = function () {
      placeFrame();
      updateLauncher();
    };
    if (small.addEventListener) {
      small.addEventListener("change", onResize);
    }
    if (remember(false)) {
      makeFrame(); // a chat may be going on in this tab: load it now, to count unread replies
    }
  }

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
