/*
 * The resident's chat panel, inside the iframe that widget.js adds to the city's page.
 *
 * Plain ES2017, no build step, no framework. The frame is on the contact center's origin, so
 * the HTTP API (/chat/api) and Socket.IO (namespace /chat) are same-origin: no CORS, and the
 * session token never leaves this frame (sessionStorage "cc-chat-token": a reload continues
 * the conversation) unless that storage is blocked (see "store" below). Once the chat has
 * ended, nothing of it is kept in any storage. Every message body is set with textContent,
 * never as HTML.
 *
 * Sending never loses a message: each one gets a client_id (the server is idempotent on it),
 * waits in an outbox kept in sessionStorage, and is retried with backoff while the network or
 * the server is away.
 */
(function () {
  "use strict";

  const STRINGS = {
    en: {
      title: "3-1-1 chat",
      language: "Language",
      close: "Close",
      loading: "Loading…",
      intro: "Tell us what it is about, and an agent will join you.",
      step_what: "1. What is it about?",
      service: "Topic",
      something_else: "Something else",
      description: "Describe the problem",
      description_help: "Required, at most 2000 characters.",
      step_where: "2. Where is it?",
      address: "Address or place (optional)",
      step_contact: "3. How can we reach you?",
      contact_why:
        "Optional. With a phone number or an email address we can send you status updates, and answer you later if nobody is free right now.",
      phone: "Phone (optional)",
      email: "Email (optional)",
      name: "Your name (optional)",
      start: "Start chat",
      starting: "Starting…",
      conversation: "Conversation",
      tracking: "Tracking number: {number}",
      you: "You",
      agent: "Agent",
      system: "3-1-1",
      message_label: "Your message",
      message_help: "Enter sends, Shift+Enter starts a new line.",
      send: "Send",
      agent_typing: "{name} is typing…",
      someone_typing: "The agent is typing…",
      email_transcript: "Email me the transcript",
      transcript_sent: "The transcript was sent to {to}.",
      no_email: "We have no email address to send the transcript to.",
      end: "End chat",
      ended: "This chat has ended.",
      new_chat: "Start a new chat",
      too_fast: "You're sending messages too fast. Please wait a moment.",
      offline: "Connection lost. Trying again…",
      sending: "Sending…",
      queued: "Not sent yet, will retry",
      not_sent: "Not sent: {reason}",
      too_long: "the message is too long",
      chat_over: "the chat has ended",
      generic_error: "Something went wrong. Please try again.",
      unavailable: "Chat is not available on this website.",
      expired: "Your chat session has expired. Please start again.",
      fix_fields: "Please correct the fields marked below.",
      need_description: "Please describe the problem.",
      bad_phone: "Enter a valid phone number.",
      bad_email: "Enter a valid email address.",
      bad_field: "Please check this field.",
      empty_message: "Type a message first.",
      rating_question: "How did we do? Rate this chat from 1 (poor) to 5 (great).",
      rating_1: "1 – Poor",
      rating_2: "2 – Fair",
      rating_3: "3 – Okay",
      rating_4: "4 – Good",
      rating_5: "5 – Great",
      rating_thanks: "Thank you for your rating ({score} out of 5).",
      rating_closed: "This chat can no longer be rated.",
    },
    fr: {
      title: "Clavardage 3-1-1",
      language: "Langue",
      close: "Fermer",
      loading: "Chargement…",
      intro: "Dites-nous de quoi il s'agit et un agent vous répondra.",
      step_what: "1. De quoi s'agit-il ?",
      service: "Sujet",
      something_else: "Autre chose",
      description: "Décrivez le problème",
      description_help: "Obligatoire, 2000 caractères au plus.",
      step_where: "2. Où est-ce ?",
      address: "Adresse ou lieu (facultatif)",
      step_contact: "3. Comment vous joindre ?",
      contact_why:
        "Facultatif. Avec un numéro de téléphone ou une adresse courriel, nous pourrons vous informer du suivi, et vous répondre plus tard si personne n'est libre maintenant.",
      phone: "Téléphone (facultatif)",
      email: "Courriel (facultatif)",
      name: "Votre nom (facultatif)",
      start: "Commencer le clavardage",
      starting: "Démarrage…",
      conversation: "Conversation",
      tracking: "Numéro de suivi : {number}",
      you: "Vous",
      agent: "Agent",
      system: "3-1-1",
      message_label: "Votre message",
      message_help: "Entrée envoie, Maj+Entrée ajoute une ligne.",
      send: "Envoyer",
      agent_typing: "{name} écrit…",
      someone_typing: "L'agent écrit…",
      email_transcript: "M'envoyer la transcription par courriel",
      transcript_sent: "La transcription a été envoyée à {to}.",
      no_email: "Nous n'avons pas d'adresse courriel où envoyer la transcription.",
      end: "Terminer le clavardage",
      ended: "Ce clavardage est terminé.",
      new_chat: "Commencer un nouveau clavardage",
      too_fast: "Vous envoyez des messages trop vite. Patientez un instant.",
      offline: "Connexion perdue. Nouvel essai…",
      sending: "Envoi…",
      queued: "Pas encore envoyé, nouvel essai bientôt",
      not_sent: "Non envoyé : {reason}",
      too_long: "le message est trop long",
      chat_over: "le clavardage est terminé",
      generic_error: "Un problème est survenu. Veuillez réessayer.",
      unavailable: "Le clavardage n'est pas offert sur ce site.",
      expired: "Votre session de clavardage a expiré. Veuillez recommencer.",
      fix_fields: "Veuillez corriger les champs indiqués ci-dessous.",
      need_description: "Veuillez décrire le problème.",
      bad_phone: "Entrez un numéro de téléphone valide.",
      bad_email: "Entrez une adresse courriel valide.",
      bad_field: "Veuillez vérifier ce champ.",
      empty_message: "Écrivez d'abord un message.",
      rating_question: "Comment avons-nous fait? Notez ce clavardage de 1 (mal) à 5 (très bien).",
      rating_1: "1 – Mauvais",
      rating_2: "2 – Passable",
      rating_3: "3 – Correct",
      rating_4: "4 – Bien",
      rating_5: "5 – Excellent",
      rating_thanks: "Merci de votre note ({score} sur 5).",
      rating_closed: "Ce clavardage ne peut plus être noté.",
    },
    es: {
      title: "Chat 3-1-1",
      language: "Idioma",
      close: "Cerrar",
      loading: "Cargando…",
      intro: "Díganos de qué se trata y un agente le atenderá.",
      step_what: "1. ¿De qué se trata?",
      service: "Tema",
      something_else: "Otra cosa",
      description: "Describa el problema",
      description_help: "Obligatorio, 2000 caracteres como máximo.",
      step_where: "2. ¿Dónde es?",
      address: "Dirección o lugar (opcional)",
      step_contact: "3. ¿Cómo podemos contactarle?",
      contact_why:
        "Opcional. Con un teléfono o un correo electrónico podemos enviarle novedades y responderle más tarde si ahora no hay nadie disponible.",
      phone: "Teléfono (opcional)",
      email: "Correo electrónico (opcional)",
      name: "Su nombre (opcional)",
      start: "Iniciar chat",
      starting: "Iniciando…",
      conversation: "Conversación",
      tracking: "Número de seguimiento: {number}",
      you: "Usted",
      agent: "Agente",
      system: "3-1-1",
      message_label: "Su mensaje",
      message_help: "Intro envía, Mayús+Intro añade una línea.",
      send: "Enviar",
      agent_typing: "{name} está escribiendo…",
      someone_typing: "El agente está escribiendo…",
      email_transcript: "Enviarme la transcripción por correo",
      transcript_sent: "La transcripción se envió a {to}.",
      no_email: "No tenemos un correo electrónico al que enviar la transcripción.",
      end: "Terminar el chat",
      ended: "Este chat ha terminado.",
      new_chat: "Iniciar un nuevo chat",
      too_fast: "Está enviando mensajes demasiado rápido. Espere un momento.",
      offline: "Se perdió la conexión. Reintentando…",
      sending: "Enviando…",
      queued: "Aún no enviado, se reintentará",
      not_sent: "No enviado: {reason}",
      too_long: "el mensaje es demasiado largo",
      chat_over: "el chat ha terminado",
      generic_error: "Algo salió mal. Inténtelo de nuevo.",
      unavailable: "El chat no está disponible en este sitio.",
      expired: "Su sesión de chat ha caducado. Vuelva a empezar.",
      fix_fields: "Corrija los campos indicados abajo.",
      need_description: "Describa el problema.",
      bad_phone: "Introduzca un número de teléfono válido.",
      bad_email: "Introduzca un correo electrónico válido.",
      bad_field: "Revise este campo.",
      empty_message: "Escriba primero un mensaje.",
      rating_question: "¿Cómo lo hicimos? Califique este chat de 1 (mal) a 5 (excelente).",
      rating_1: "1 – Mala",
      rating_2: "2 – Regular",
      rating_3: "3 – Aceptable",
      rating_4: "4 – Buena",
      rating_5: "5 – Excelente",
      rating_thanks: "Gracias por su calificación ({score} de 5).",
      rating_closed: "Este chat ya no se puede calificar.",
    },
  };
  const LANGUAGE_NAMES = { en: "English", fr: "Français", es: "Español" };
  const TOKEN_KEY = "cc-chat-token";
  const OUTBOX_KEY = "cc-chat-outbox";
  const INTAKE_ID_KEY = "cc-chat-intake-id";
  const DRAFT_KEY = "cc-chat-draft";
  const MAX_BODY = 2000;
  const ACK_TIMEOUT_MS = 8000;
  const MAX_BACKOFF_MS = 30000;
  const TYPING_EVERY_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  const AGENT_TYPING_MS = 8000;
  const INTAKE_FIELDS = ["service_code", "description", "address", "phone", "email", "name"];
  // Never kept in the city page's storage, which every script of the city's site can read.
  const PERSONAL_FIELDS = ["address", "phone", "email", "name"];

  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const embedded = window.parent !== window;
  const $ = (id) => document.getElementById(id);

  const state = {
    language: pickLanguage(config.language),
    token: null,
    session: null,
    sessionPushes: 0,
    shownIds: new Set(),
    outbox: [], // [{client_id, body}], oldest first, persisted
    sending: false,
    backoff: 1000,
    retryTimer: null,
    pollTimer: null,
    socket: null,
    open: !embedded,
    unread: 0,
    lastTypingSent: 0,
    typingIdleTimer: null,
    agentTypingTimer: null,
    ratingAsked: false, // the rating was asked for once this chat ended
  };

  // --- Small helpers -----------------------------------------------------------------------

  // Browsers that block third-party storage (third-party cookies off, private windows) refuse
  // this frame its sessionStorage. Then the loader keeps our few keys in the city page's own
  // sessionStorage ("store" messages, sent only to that page's origin) and hands them back
  // when the frame loads, so a reload still continues the chat. Any script of the city's site
  // can read that storage, so it gets only what a reload needs: the token, the unsent
  // messages and the intake's topic and description, never the resident's name, phone, email
  // or address (a language change then loses those). Failing both, the chat works from memory
  // and a reload starts over.
  const memory = new Map();
  const ownStorage = (() => {
    try {
      window.sessionStorage.getItem(TOKEN_KEY);
      return window.sessionStorage;
    } catch (refused) {
      return null;
    }
  })();
  const pageKeepsStorage = !ownStorage && embedded && parentOrigin() !== "*";
  const store = {
    get(key) {
      if (ownStorage) {
        return ownStorage.getItem(key);
      }
      return memory.has(key) ? memory.get(key) : null;
    },
    set(key, value) {
      if (ownStorage) {
        try {
          ownStorage.setItem(key, value);
        } catch (full) {
          memory.set(key, value);
        }
        return;
      }
      memory.set(key, value);
      if (pageKeepsStorage) {
        tellPage({ action: "store", key, value: forPage(key, value) });
      }
    },
    remove(key) {
      if (ownStorage) {
        ownStorage.removeItem(key);
        return;
      }
      memory.delete(key);
      if (pageKeepsStorage) {
        tellPage({ action: "store", key, value: null });
      }
    },
  };

  function forPage(key, value) {
    if (key !== DRAFT_KEY) {
      return value;
    }
    try {
      const draft = JSON.parse(value);
      const values = draft && draft.values && typeof draft.values === "object" ? draft.values : {};
      PERSONAL_FIELDS.forEach((name) => delete values[name]);
      return JSON.stringify({ values, focus: draft.focus || null });
    } catch (broken) {
      return null;
    }
  }

  // What the page kept for us (see above); resolves at once when we have our own storage,
  // or after a short wait when the page does not answer (an older loader).
  function loadPageStorage() {
    if (!pageKeepsStorage) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, 1500);
      function done() {
        clearTimeout(timer);
        window.removeEventListener("message", onValues);
        resolve();
      }
      function onValues(event) {
        const data = event.data;
        if (event.source !== window.parent || !data || data.type !== "cc-chat" || data.action !== "storage") {
          return;
        }
        const values = data.values && typeof data.values === "object" ? data.values : {};
        Object.keys(values).forEach((key) => {
          if (typeof values[key] === "string") {
            memory.set(key, values[key]);
          }
        });
        done();
      }
      window.addEventListener("message", onValues);
      tellPage({ action: "storage-request" });
    });
  }

  function pickLanguage(wanted) {
    const code = String(wanted || "").slice(0, 2).toLowerCase();
    return STRINGS[code] ? code : "en";
  }

  function t(key, values) {
    const table = STRINGS[state.language] || STRINGS.en;
    let text = table[key] !== undefined ? table[key] : STRINGS.en[key] || key;
    Object.keys(values || {}).forEach((name) => {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  // Random ids without crypto.randomUUID, which needs a secure context.
  function newId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setText(element, text) {
    element.textContent = text || "";
  }

  // --- Talking to the page around the frame ------------------------------------------------

  function parentOrigin() {
    const ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) {
      return ancestors[0];
    }
    try {
      return new URL(document.referrer).origin;
    } catch (none) {
      return "*"; // the messages carry no personal data: a count and "close"
    }
  }

  function tellPage(message) {
    if (embedded) {
      window.parent.postMessage(Object.assign({ type: "cc-chat" }, message), parentOrigin());
    }
  }

  function onPageMessage(event) {
    const data = event.data;
    if (event.source !== window.parent || !data || data.type !== "cc-chat") {
      return;
    }
    if (data.action === "open") {
      state.open = true;
      state.unread = 0;
      tellPage({ action: "unread", count: 0 });
      if (data.focus !== false) {
        focusDefault();
      }
    } else if (data.action === "close") {
      state.open = false;
    }
  }

  function closePanel() {
    if (!embedded) {
      return;
    }
    state.open = false;
    sendTyping(false);
    tellPage({ action: "close" });
  }

  function countUnread() {
    if (!state.open) {
      state.unread += 1;
      tellPage({ action: "unread", count: state.unread });
    }
  }

  // --- HTTP API ----------------------------------------------------------------------------

  // Resolves to {status, data, retryAfter}; rejects only when the network is down.
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (state.token) {
      headers.Authorization = "Bearer " + state.token;
    }
    const response = await fetch(config.api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (notJson) {
        data = null;
      }
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    return { status: response.status, data, retryAfter };
  }

  function errorCode(result) {
    return (result.data && result.data.error && result.data.error.code) || "";
  }

  // --- Banners -----------------------------------------------------------------------------

  function showAlert(text) {
    setText($("cc-alert"), text);
  }

  function showOffline(isOffline) {
    setText($("cc-connection"), isOffline ? t("offline") : "");
  }

  // --- Language ----------------------------------------------------------------------------

  function applyStrings() {
    document.documentElement.lang = state.language;
    document.title = t("title") + " · " + (config.jurisdiction || "");
    document.querySelectorAll("[data-i18n]").forEach((element) => {
      setText(element, t(element.getAttribute("data-i18n")));
    });
    const other = $("cc-service").querySelector("option[value='']");
    if (other) {
      setText(other, t("something_else"));
    }
    document.querySelectorAll("#cc-log li").forEach(labelMessage);
    renderSession();
    renderTyping(Boolean(state.agentTypingTimer));
  }

  function fillLanguages() {
    const select = $("cc-language");
    const codes = (config.languages && config.languages.length ? config.languages : ["en"]).slice();
    if (codes.indexOf(state.language) < 0) {
      codes.unshift(state.language);
    }
    codes.forEach((code) => {
      const option = document.createElement("option");
      option.value = code;
      option.lang = code;
      setText(option, LANGUAGE_NAMES[code] || code);
      select.appendChild(option);
    });
    select.value = state.language;
    select.addEventListener("change", () => changeLanguage(select.value));
  }

  function changeLanguage(code) {
    if (!state.token) {
      // Before the chat starts, reload so the topics come localized from the server; what the
      // resident typed is kept, and focus comes back to the picker.
      store.set(DRAFT_KEY, JSON.stringify({ values: intakeValues(), focus: "cc-language" }));
      const url = new URL(window.location.href);
      url.searchParams.set("lang", code);
      window.location.replace(url.href);
      return;
    }
    state.language = pickLanguage(code);
    applyStrings();
  }

  // --- Intake ------------------------------------------------------------------------------

  function fillServices() {
    const select = $("cc-service");
    (config.service_types || []).forEach((service) => {
      const option = document.createElement("option");
      option.value = service.code;
      setText(option, service.name);
      select.appendChild(option);
    });
    const other = document.createElement("option");
    other.value = "";
    select.appendChild(other);
  }

  function intakeValues() {
    const form = $("cc-intake");
    const values = {};
    INTAKE_FIELDS.forEach((name) => {
      values[name] = form.elements[name].value.trim();
    });
    return values;
  }

  function restoreDraft() {
    const raw = store.get(DRAFT_KEY);
    store.remove(DRAFT_KEY);
    if (!raw) {
      return null;
    }
    try {
      const draft = JSON.parse(raw);
      const form = $("cc-intake");
      INTAKE_FIELDS.forEach((name) => {
        if (draft.values && typeof draft.values[name] === "string") {
          form.elements[name].value = draft.values[name];
        }
      });
      return draft.focus || null;
    } catch (broken) {
      return null;
    }
  }

  function clearFieldErrors() {
    INTAKE_FIELDS.forEach((name) => {
      const field = $("cc-intake").elements[name];
      field.removeAttribute("aria-invalid");
      const note = $(field.id + "-error");
      if (note) {
        setText(note, "");
      }
    });
  }

  function fieldMessage(name, serverText) {
    const local = { description: "need_description", phone: "bad_phone", email: "bad_email" };
    if (local[name]) {
      return t(local[name]);
    }
    return state.language === "en" && typeof serverText === "string" ? serverText : t("bad_field");
  }

  function showFieldErrors(given) {
    // {"phone": "why"} or ["phone"]: either way, the names of the fields to fix.
    const fields = Array.isArray(given) ? Object.fromEntries(given.map((name) => [name, ""])) : given;
    let first = null;
    Object.keys(fields).forEach((name) => {
      const field = $("cc-intake").elements[name];
      if (!field || INTAKE_FIELDS.indexOf(name) < 0) {
        return;
      }
      field.setAttribute("aria-invalid", "true");
      const note = $(field.id + "-error");
      if (note) {
        setText(note, fieldMessage(name, fields[name]));
      }
      first = first || field;
    });
    showAlert(t("fix_fields"));
    if (first) {
      first.focus();
    }
  }

  async function startChat(event, retried) {
    event.preventDefault();
    const button = $("cc-start");
    if (button.disabled) {
      return;
    }
    clearFieldErrors();
    showAlert("");
    const values = intakeValues();
    if (!values.description) {
      showFieldErrors({ description: "" });
      return;
    }
    // The same id for every retry of this intake: a POST that did arrive is not doubled.
    let intakeId = store.get(INTAKE_ID_KEY);
    if (!intakeId) {
      intakeId = newId();
      store.set(INTAKE_ID_KEY, intakeId);
    }
    const body = Object.assign({ key: config.key, language: state.language, client_id: intakeId }, values);
    button.disabled = true;
    setText(button, t("starting"));
    try {
      const result = await api("POST", "/sessions", body);
      if (result.status === 201 && result.data && result.data.token) {
        store.remove(INTAKE_ID_KEY);
        state.token = result.data.token;
        store.set(TOKEN_KEY, state.token);
        $("cc-intake").reset();
        showConversation(result.data.session, result.data.messages || []);
        connectSocket();
        $("cc-message").focus();
      } else if (result.status === 400) {
        const error = (result.data && result.data.error) || {};
        if (error.fields && typeof error.fields === "object" && Object.keys(error.fields).length) {
          showFieldErrors(error.fields);
        } else {
          showAlert(error.message || t("generic_error"));
        }
      } else if (result.status === 409 && errorCode(result) === "client_id_reused" && !retried) {
        // An earlier try did start a chat whose answer was lost, and the answers changed
        // since: start afresh with these ones.
        store.remove(INTAKE_ID_KEY);
        button.disabled = false;
        await startChat(event, true);
      } else if (result.status === 409 && errorCode(result) === "try_again" && !retried) {
        // Someone else started a chat with the same phone or email at the same instant: the
        // server is ready for ours a moment later (the same intake id, so never doubled).
        await new Promise(function (resolve) { setTimeout(resolve, 500); });
        button.disabled = false;
        await startChat(event, true);
      } else if (result.status === 404) {
        showAlert(t("unavailable"));
      } else if (result.status === 429) {
        showAlert(t("too_fast"));
      } else {
        showAlert(t("generic_error"));
      }
    } catch (networkDown) {
      showAlert(t("offline"));
    } finally {
      button.disabled = false;
      setText(button, t("start"));
    }
  }

  function showIntake() {
    $("cc-loading").hidden = true;
    $("cc-chat").hidden = true;
    $("cc-intake").hidden = false;
  }

  // --- Conversation ------------------------------------------------------------------------

  function showConversation(session, messages) {
    $("cc-loading").hidden = true;
    $("cc-intake").hidden = true;
    $("cc-chat").hidden = false;
    applySession(session);
    addMessages(messages, false);
    renderOutbox();
  }

  function agentName() {
    return (state.session && state.session.agent_name) || "";
  }

  function renderSession() {
    const session = state.session;
    if (!session) {
      return;
    }
    const tracking = $("cc-tracking");
    tracking.hidden = !session.tracking_number;
    setText(tracking, session.tracking_number ? t("tracking", { number: session.tracking_number }) : "");
    const notice = session.notice || (session.state === "ended" ? t("ended") : "");
    // Not a live region: the same sentence arrives in the log as a system message.
    setText($("cc-notice"), notice);
    const ended = session.state === "ended";
    $("cc-transcript").hidden = !session.can_email_transcript;
    $("cc-end").hidden = ended;
    $("cc-new").hidden = !ended;
    $("cc-composer").hidden = ended;
    $("cc-message").disabled = ended;
    $("cc-send").disabled = ended;
    if (ended) {
      renderTyping(false);
    }
  }

  function applySession(session) {
    if (!session) {
      return;
    }
    const wasEnded = state.session && state.session.state === "ended";
    const focused = document.activeElement;
    const focusWillGo = $("cc-composer").contains(focused) || focused === $("cc-end");
    state.session = session;
    renderSession();
    if (session.state === "ended") {
      forgetStoredChat();
    }
    if (session.state === "ended" && !wasEnded) {
      sendTyping(false);
      if (focusWillGo) {
        $("cc-new").focus(); // the composer and "End chat" just went away
      }
      offerRating();
    }
  }

  // --- The satisfaction rating, once the chat has ended ----------------------------------------

  // The server says whether this chat may be rated (an agent took part, surveys are on, the
  // resident was not asked lately); the answer is one click on a labelled button.
  async function offerRating() {
    if (!state.token || state.ratingAsked) {
      return;
    }
    state.ratingAsked = true;
    let result;
    try {
      result = await api("POST", "/survey");
    } catch (networkDown) {
      state.ratingAsked = false;
      return;
    }
    showRating(result.status === 200 && result.data ? result.data.survey : null);
  }

  function showRating(survey) {
    const form = $("cc-rating");
    if (!survey || !chatOver()) {
      form.hidden = true;
      return;
    }
    if (survey.state === "answered") {
      form.hidden = true;
      setText($("cc-rating-result"), t("rating_thanks", { score: survey.score }));
      return;
    }
    form.hidden = survey.state !== "sent";
  }

  async function rate(event) {
    const button = event.target.closest("button[data-score]");
    if (!button) {
      return;
    }
    const buttons = document.querySelectorAll("#cc-rating button[data-score]");
    buttons.forEach((each) => { each.disabled = true; });
    let result;
    try {
      result = await api("POST", "/rating", { score: Number(button.getAttribute("data-score")) });
    } catch (networkDown) {
      setText($("cc-rating-result"), t("offline"));
      buttons.forEach((each) => { each.disabled = false; });
      return;
    }
    if (result.status === 200 && result.data) {
      showRating(result.data.survey);
      $("cc-new").focus();
    } else if (result.status === 401 || result.status === 409 || result.status === 410) {
      $("cc-rating").hidden = true;
      setText($("cc-rating-result"), t("rating_closed"));
    } else {
      setText($("cc-rating-result"), t("generic_error"));
      buttons.forEach((each) => { each.disabled = false; });
    }
  }

  function labelMessage(item) {
    const who = item.querySelector(".msg-who");
    const from = item.getAttribute("data-from");
    if (from === "resident") {
      setText(who, t("you"));
    } else if (from === "agent") {
      setText(who, item.getAttribute("data-author") || agentName() || t("agent"));
    } else {
      setText(who, t("system"));
    }
    const status = item.querySelector(".msg-status");
    const pending = item.getAttribute("data-pending");
    if (pending === "sending") {
      setText(status, t("sending"));
    } else if (pending === "queued") {
      setText(status, t("queued"));
    } else if (pending === "failed") {
      setText(status, t("not_sent", { reason: t(item.getAttribute("data-reason") || "generic_error") }));
    } else {
      setText(status, "");
    }
    const time = item.querySelector("time");
    const at = time.getAttribute("datetime");
    if (at) {
      const when = new Date(at);
      setText(time, isNaN(when) ? "" : when.toLocaleTimeString(state.language, { hour: "2-digit", minute: "2-digit" }));
    }
  }

  function messageItem(from, body) {
    const item = document.createElement("li");
    item.className = "msg msg-" + (from === "resident" || from === "agent" ? from : "system");
    item.setAttribute("data-from", from);
    const meta = document.createElement("p");
    meta.className = "msg-meta";
    const who = document.createElement("span");
    who.className = "msg-who";
    const time = document.createElement("time");
    const status = document.createElement("span");
    status.className = "msg-status";
    meta.append(who, " ", time, " ", status);
    const text = document.createElement("p");
    text.className = "msg-body";
    text.textContent = body; // never innerHTML: resident and agent words stay text
    item.append(meta, text);
    return item;
  }

  function setServerFields(item, message) {
    item.id = "cc-msg-" + message.id;
    item.removeAttribute("data-pending");
    if (message.author) {
      item.setAttribute("data-author", message.author);
    }
    item.querySelector("time").setAttribute("datetime", message.at || "");
    labelMessage(item);
  }

  function scrollToEnd() {
    const log = $("cc-log");
    log.scrollTop = log.scrollHeight;
  }

  // Adds a message from the server once, in place of its pending copy if it is ours.
  function addMessage(message, fresh) {
    if (!message || typeof message.id !== "number" || state.shownIds.has(message.id)) {
      return;
    }
    state.shownIds.add(message.id);
    const log = $("cc-log");
    const pending = message.client_id ? log.querySelector('li[data-client-id="' + cssId(message.client_id) + '"]') : null;
    if (pending) {
      setServerFields(pending, message);
      dropFromOutbox(message.client_id);
      return;
    }
    const item = messageItem(message.from, String(message.body || ""));
    setServerFields(item, message);
    // Server messages go before any still-unsent ones, which are the newest by definition.
    log.insertBefore(item, log.querySelector("li[data-pending]"));
    scrollToEnd();
    if (message.from === "agent") {
      renderTyping(false);
    }
    if (fresh && message.from !== "resident") {
      countUnread();
    }
  }

  function addMessages(messages, fresh) {
    (messages || []).forEach((message) => addMessage(message, fresh));
  }

  function cssId(value) {
    return String(value).replace(/[^A-Za-z0-9_-]/g, "");
  }

  // --- Typing ------------------------------------------------------------------------------

  function renderTyping(on) {
    const name = agentName();
    setText($("cc-typing"), on ? (name ? t("agent_typing", { name }) : t("someone_typing")) : "");
  }

  function onAgentTyping(data) {
    clearTimeout(state.agentTypingTimer);
    state.agentTypingTimer = null;
    const on = Boolean(data && data.typing) && !(state.session && state.session.state === "ended");
    if (on) {
      // A lost "stopped typing" never leaves the indicator on for good.
      state.agentTypingTimer = setTimeout(() => {
        state.agentTypingTimer = null;
        renderTyping(false);
      }, AGENT_TYPING_MS);
    }
    renderTyping(on);
  }

  function sendTyping(on) {
    const socket = state.socket;
    clearTimeout(state.typingIdleTimer);
    if (!socket || !socket.connected) {
      return;
    }
    if (on) {
      state.typingIdleTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
      if (Date.now() - state.lastTypingSent < TYPING_EVERY_MS) {
        return;
      }
      state.lastTypingSent = Date.now();
    } else {
      if (!state.lastTypingSent) {
        return;
      }
      state.lastTypingSent = 0;
    }
    socket.emit("typing", { typing: on });
  }

  // --- Sending: an outbox that survives reloads and outages --------------------------------

  function saveOutbox() {
    if (chatOver()) {
      return; // forgotten with the rest of the chat
    }
    store.set(OUTBOX_KEY, JSON.stringify(state.outbox.map((m) => ({ client_id: m.client_id, body: m.body }))));
  }

  function loadOutbox() {
    try {
      const saved = JSON.parse(store.get(OUTBOX_KEY) || "[]");
      state.outbox = Array.isArray(saved)
        ? saved.filter((m) => m && typeof m.client_id === "string" && typeof m.body === "string")
        : [];
    } catch (broken) {
      state.outbox = [];
    }
  }

  function dropFromOutbox(clientId) {
    state.outbox = state.outbox.filter((m) => m.client_id !== clientId);
    saveOutbox();
  }

  function pendingItem(entry) {
    const log = $("cc-log");
    let item = log.querySelector('li[data-client-id="' + cssId(entry.client_id) + '"]');
    if (!item) {
      item = messageItem("resident", entry.body);
      item.setAttribute("data-client-id", cssId(entry.client_id));
      log.appendChild(item);
      scrollToEnd();
    }
    return item;
  }

  function markPending(entry, how, reason) {
    const item = pendingItem(entry);
    item.setAttribute("data-pending", how);
    if (reason) {
      item.setAttribute("data-reason", reason);
    }
    labelMessage(item);
  }

  function renderOutbox() {
    state.outbox.forEach((entry) => markPending(entry, "queued"));
  }

  function queueMessage(body) {
    const entry = { client_id: newId(), body };
    state.outbox.push(entry);
    saveOutbox();
    markPending(entry, "sending");
    flush();
  }

  function sendOverSocket(entry) {
    return new Promise((resolve) => {
      state.socket.timeout(ACK_TIMEOUT_MS).emit("message", { client_id: entry.client_id, body: entry.body }, (timedOut, reply) => {
        if (timedOut) {
          resolve({ status: 0 });
        } else if (reply && reply.ok) {
          resolve({ status: 201, data: { message: reply.message } });
        } else {
          const code = (reply && reply.error && reply.error.code) || "";
          const status = /rate|too_many|slow/.test(code) ? 429 : code === "chat_ended" ? 409 : code === "unauthorized" ? 401 : 400;
          resolve({ status, data: reply });
        }
      });
    });
  }

  async function sendOne(entry) {
    if (state.socket && state.socket.connected) {
      return sendOverSocket(entry);
    }
    try {
      return await api("POST", "/messages", { client_id: entry.client_id, body: entry.body });
    } catch (networkDown) {
      return { status: 0 };
    }
  }

  function retryLater(delay) {
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      state.retryTimer = null;
      flush();
    }, delay);
  }

  async function flush() {
    if (state.sending || state.retryTimer || !state.token) {
      return;
    }
    const entry = state.outbox[0];
    if (!entry) {
      return;
    }
    state.sending = true;
    markPending(entry, "sending");
    const result = await sendOne(entry);
    state.sending = false;
    if (result.status === 201 && result.data && result.data.message) {
      state.backoff = 1000;
      showOffline(false);
      showAlert("");
      dropFromOutbox(entry.client_id);
      addMessage(result.data.message, false);
      flush();
    } else if (result.status === 429) {
      showAlert(t("too_fast"));
      markPending(entry, "queued");
      retryLater(Math.max(result.retryAfter * 1000 || 0, nextBackoff()));
    } else if (result.status === 401) {
      expire();
    } else if (result.status === 409 || result.status === 400 || result.status === 413) {
      dropFromOutbox(entry.client_id);
      markPending(entry, "failed", errorCode(result) === "chat_ended" || result.status === 409 ? "chat_over" : result.status === 400 && entry.body.length > MAX_BODY ? "too_long" : "generic_error");
      if (result.status === 409) {
        resync();
      }
      flush();
    } else {
      // Network down, timeout, or a server error: keep it, try again later.
      if (result.status === 0) {
        showOffline(true);
      }
      markPending(entry, "queued");
      retryLater(nextBackoff());
    }
  }

  function nextBackoff() {
    const delay = state.backoff;
    state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF_MS);
    return delay + Math.floor(Math.random() * 250);
  }

  function onComposerSubmit(event) {
    event.preventDefault();
    const field = $("cc-message");
    const body = field.value.trim();
    if (!body) {
      setText($("cc-result"), t("empty_message"));
      return;
    }
    if (body.length > MAX_BODY) {
      setText($("cc-result"), t("not_sent", { reason: t("too_long") }));
      return;
    }
    setText($("cc-result"), "");
    field.value = "";
    sendTyping(false);
    queueMessage(body);
    field.focus();
  }

  function onComposerKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      onComposerSubmit(event);
    }
  }

  // --- Transcript, end, new chat -----------------------------------------------------------

  async function emailTranscript() {
    const button = $("cc-transcript");
    button.disabled = true;
    try {
      const result = await api("POST", "/transcript");
      if (result.status === 202) {
        setText($("cc-result"), t("transcript_sent", { to: (result.data && result.data.sent_to) || "" }));
      } else if (result.status === 409) {
        setText($("cc-result"), t("no_email"));
      } else if (result.status === 429) {
        setText($("cc-result"), t("too_fast"));
      } else if (result.status === 401) {
        expire();
      } else {
        setText($("cc-result"), t("generic_error"));
      }
    } catch (networkDown) {
      setText($("cc-result"), t("offline"));
    } finally {
      button.disabled = false;
    }
  }

  async function endChat() {
    const button = $("cc-end");
    button.disabled = true;
    sendTyping(false);
    try {
      const result = await api("POST", "/end");
      if (result.status === 200 && result.data) {
        applySession(result.data.session);
        $("cc-new").focus();
      } else if (result.status === 401) {
        expire();
      } else {
        setText($("cc-result"), t("generic_error"));
      }
    } catch (networkDown) {
      setText($("cc-result"), t("offline"));
    } finally {
      button.disabled = false;
    }
  }

  function chatOver() {
    return Boolean(state.session && state.session.state === "ended");
  }

  // An ended chat keeps nothing in storage, the frame's or the page's: a reload shows the
  // intake, and a token left behind cannot open the conversation to whoever reads it later.
  // The final screen (and its token, for "Email me the transcript") lives on in memory only,
  // until the server stops taking the token a few minutes on.
  function forgetStoredChat() {
    [TOKEN_KEY, OUTBOX_KEY, DRAFT_KEY, INTAKE_ID_KEY].forEach((key) => store.remove(key));
  }

  function stopLive() {
    if (state.socket) {
      state.socket.disconnect();
      state.socket = null;
    }
    clearTimeout(state.retryTimer);
    stopPolling();
    state.retryTimer = null;
  }

  function forgetChat() {
    if (state.socket) {
      state.socket.disconnect();
      state.socket = null;
    }
    clearTimeout(state.retryTimer);
    clearInterval(state.pollTimer);
    state.retryTimer = null;
    state.pollTimer = null;
    state.token = null;
    state.session = null;
    state.outbox = [];
    state.shownIds = new Set();
    store.remove(TOKEN_KEY);
    store.remove(OUTBOX_KEY);
    $("cc-log").replaceChildren();
    setText($("cc-notice"), "");
    setText($("cc-result"), "");
    state.ratingAsked = false;
    $("cc-rating").hidden = true;
    setText($("cc-rating-result"), "");
    renderTyping(false);
  }

  function newChat() {
    forgetChat();
    showAlert("");
    showIntake();
    $("cc-service").focus();
  }

  function expire() {
    if (chatOver()) {
      // The server no longer takes the token of a chat that ended: keep the final screen.
      stopLive();
      $("cc-transcript").hidden = true;
      return;
    }
    forgetChat();
    showIntake();
    showAlert(t("expired"));
  }

  // --- Realtime ----------------------------------------------------------------------------

  async function resync() {
    if (!state.token) {
      return;
    }
    let result;
    const pushedBefore = state.sessionPushes;
    try {
      result = await api("GET", "/session");
    } catch (networkDown) {
      showOffline(true);
      return;
    }
    if (result.status === 200 && result.data) {
      showOffline(false);
      // A state pushed over the socket while this answer was on its way is newer than it.
      if (state.sessionPushes === pushedBefore) {
        applySession(result.data.session);
      }
      addMessages(result.data.messages, true);
      flush();
    } else if (result.status === 401) {
      expire();
    }
  }

  // Without a live socket, look for news over HTTP now and then.
  function startPolling() {
    if (!state.pollTimer) {
      state.pollTimer = setInterval(resync, 10000);
    }
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  function connectSocket() {
    if (state.socket || !state.token) {
      return;
    }
    if (typeof window.io !== "function") {
      startPolling(); // the client script did not load: HTTP alone still works
      return;
    }
    const socket = window.io(config.namespace || "/chat", {
      path: config.socket_path || "/socket.io",
      transports: ["websocket"],
      auth: (send) => send({ token: state.token }),
    });
    state.socket = socket;
    socket.on("connect", () => {
      stopPolling();
      showOffline(false);
      clearTimeout(state.retryTimer);
      state.retryTimer = null;
      state.backoff = 1000;
      resync(); // anything missed while away, then the outbox
    });
    socket.on("disconnect", (reason) => {
      if (reason === "io client disconnect") {
        return;
      }
      showOffline(true);
      startPolling();
      if (reason === "io server disconnect") {
        resync(); // kicked: find out whether the session is still ours
        setTimeout(() => socket.connect(), nextBackoff());
      }
    });
    socket.on("connect_error", () => {
      startPolling();
      if (!socket.active) {
        // Refused: an expired token (resync says 401 and starts over) or a passing problem.
        resync();
        setTimeout(() => state.socket === socket && socket.connect(), nextBackoff());
      }
    });
    socket.on("message", (message) => addMessage(message, true));
    socket.on("typing", onAgentTyping);
    socket.on("session", (session) => {
      state.sessionPushes += 1;
      applySession(session);
    });
  }

  window.addEventListener("online", () => {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    state.backoff = 1000;
    flush();
    resync();
  });

  // --- Focus and keyboard ------------------------------------------------------------------

  function focusDefault() {
    if (!$("cc-chat").hidden) {
      const field = $("cc-message");
      (field.disabled ? $("cc-title") : field).focus();
    } else if (!$("cc-intake").hidden) {
      $("cc-service").focus();
    } else {
      $("cc-title").focus();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      closePanel();
    }
  });

  // --- Start -------------------------------------------------------------------------------

  async function restore() {
    state.token = store.get(TOKEN_KEY);
    loadOutbox();
    if (!state.token) {
      showIntake();
      return;
    }
    $("cc-loading").hidden = false;
    let result = null;
    try {
      result = await api("GET", "/session");
    } catch (networkDown) {
      result = null;
    }
    if (result && result.status === 200 && result.data) {
      showConversation(result.data.session, result.data.messages || []);
      connectSocket();
      flush();
    } else if (result && (result.status === 401 || result.status === 403 || result.status === 404)) {
      forgetChat();
      showIntake();
    } else {
      // Down for now: show what we have (the outbox) and keep trying.
      $("cc-loading").hidden = true;
      $("cc-chat").hidden = false;
      renderOutbox();
      showOffline(true);
      connectSocket();
      startPolling();
    }
  }

  function init() {
    $("cc-close").hidden = !embedded;
    fillLanguages();
    fillServices();
    applyStrings();
    $("cc-intake").addEventListener("submit", startChat);
    $("cc-composer").addEventListener("submit", onComposerSubmit);
    $("cc-message").addEventListener("keydown", onComposerKey);
    $("cc-message").addEventListener("input", () => sendTyping(Boolean($("cc-message").value)));
    $("cc-message").addEventListener("blur", () => sendTyping(false));
    $("cc-transcript").addEventListener("click", emailTranscript);
    $("cc-end").addEventListener("click", endChat);
    $("cc-new").addEventListener("click", newChat);
    $("cc-rating").addEventListener("click", rate);
    $("cc-close").addEventListener("click", closePanel);
    window.addEventListener("message", onPageMessage);
    loadPageStorage()
      .then(restore)
      .then(() => {
        const focusAfter = restoreDraft();
        if (focusAfter && $(focusAfter)) {
          $(focusAfter).focus();
        } else if (state.open && [document.body, $("cc-title")].indexOf(document.activeElement) >= 0) {
          focusDefault();
        }
      });
  }

  init();
})();
