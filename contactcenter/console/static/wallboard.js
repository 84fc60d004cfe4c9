/*
 * The wallboard stays live: console.js turns the socket's "board_changed" into a
 * "console:board_changed" DOM event, and this refetches just the figures (#board), at most once
 * a second however many changes arrive. A supervisor using a form on the board is never
 * interrupted: the swap waits until focus leaves the board.
 */
(function () {
  "use strict";

  var INTERVAL = 1000;
  var board = document.getElementById("board");
  if (!board) {
    return;
  }
  var url = board.dataset.boardUrl;
  var jurisdictionId = Number(board.dataset.jurisdictionId);
  var last = 0;
  var timer = null;
  var waitingForBlur = false;

  function busy() {
    var active = document.activeElement;
    return active && active !== board && board.contains(active) && active.closest("form");
  }

  function refresh() {
    timer = null;
    if (busy()) {
      waitingForBlur = true;
      return;
    }
    last = Date.now();
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        if (busy()) {
          waitingForBlur = true;
          return;
        }
        board.innerHTML = html;
      })
      .catch(function () {
        // The next change tries again; the figures on screen stay as they were.
      });
  }

  function schedule() {
    if (timer) {
      return;
    }
    timer = setTimeout(refresh, Math.max(0, last + INTERVAL - Date.now()));
  }

  document.addEventListener("console:board_changed", function (event) {
    var data = event.detail || {};
    if (Number(data.jurisdiction_id) === jurisdictionId) {
      schedule();
    }
  });

  board.addEventListener("focusout", function (event) {
    if (waitingForBlur && !board.contains(event.relatedTarget)) {
      waitingForBlur = false;
      schedule();
    }
  });
})();
