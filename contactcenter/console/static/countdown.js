// SLA countdowns: next to every <time data-countdown>, "due in 1 h 12 min" or
// "overdue by 5 min" (class "overdue"), refreshed every 30 s. The server-rendered absolute
// time stays as it is for no-JS and screen readers; the countdown is aria-hidden. No network;
// no timer when the page has nothing to count.
(function () {
  "use strict";

  var PERIOD_MS = 30000;

  function describe(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    var parts = [];
    if (days) parts.push(days + " d");
    if (hours) parts.push(hours + " h");
    if (mins || parts.length === 0) parts.push((minutes === 0 ? "< 1" : mins) + " min");
    return parts.join(" ");
  }

  function countdownFor(time) {
    var next = time.nextElementSibling;
    if (next && next.classList.contains("countdown")) return next;
    var span = document.createElement("span");
    span.className = "countdown";
    span.setAttribute("aria-hidden", "true");
    time.insertAdjacentElement("afterend", span);
    return span;
  }

  function update() {
    var times = document.querySelectorAll("time[data-countdown]");
    var now = Date.now();
    for (var i = 0; i < times.length; i++) {
      var due = Date.parse(times[i].getAttribute("datetime"));
      if (isNaN(due)) continue;
      var span = countdownFor(times[i]);
      var left = due - now;
      var overdue = left < 0;
      span.textContent = " (" + (overdue ? "overdue by " : "due in ") + describe(left) + ")";
      span.classList.toggle("overdue", overdue);
    }
    return times.length;
  }

  function start() {
    if (update() > 0) window.setInterval(update, PERIOD_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
