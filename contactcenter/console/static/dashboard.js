/*
 * The performance screens' charts and controls. The page carries every figure as tables (and
 * works without this script); this draws the charts from the same figures, embedded as JSON in
 * #chart-data, and when a control changes, fetches the page for the new choice and swaps the
 * figures in place (the address follows, so reload and back work). A click on a bar opens the
 * drill-down of what it counts.
 */
(function () {
  "use strict";

  var BLUE = "#0b5394", GREEN = "#1e7a34", RED = "#b42318", ORANGE = "#c75a00", GREY = "#6e7781";
  var form = document.querySelector("form.perf-controls");
  var figures = document.getElementById("figures");
  var main = document.getElementById("main");
  if (!form || !figures) {
    return;
  }
  var charts = [];

  function chartData() {
    var node = document.getElementById("chart-data");
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function draw(id, config, links) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof window.Chart === "undefined") { return; }
    config.options = Object.assign({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      onClick: function (event, elements) {
        if (links && elements.length && links[elements[0].index]) {
          window.location.href = links[elements[0].index];
        }
      },
      onHover: function (event, elements) {
        event.native.target.style.cursor = links && elements.length ? "pointer" : "default";
      }
    }, config.options || {});
    charts.push(new window.Chart(canvas, config));
  }

  function constant(value, length) {
    var out = [];
    for (var i = 0; i < length; i++) { out.push(value); }
    return out;
  }

  function drawDashboard(data) {
    var datasets = [
      { type: "bar", label: "Offered", data: data.offered, backgroundColor: BLUE, yAxisID: "y", order: 2 },
      { type: "bar", label: "Answered", data: data.answered, backgroundColor: GREEN, yAxisID: "y", order: 2 },
      { type: "bar", label: "Abandoned", data: data.abandoned, backgroundColor: RED, yAxisID: "y", order: 2 },
      { type: "line", label: "Service level (%)", data: data.service_level, borderColor: ORANGE, backgroundColor: ORANGE, yAxisID: "percent", spanGaps: true, order: 1 }
    ];
    if (data.service_level_target !== null && data.service_level_target !== undefined) {
      datasets.push({ type: "line", label: "Service-level target (%)", data: constant(data.service_level_target, data.labels.length),
                      borderColor: GREY, borderDash: [6, 4], pointRadius: 0, yAxisID: "percent", order: 0 });
    }
    draw("chart-intervals", {
      data: { labels: data.labels, datasets: datasets },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "Contacts" } },
                           percent: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "Service level %" } } } }
    }, data.drill);
    var queues = data.queues || { labels: [] };
    draw("chart-queues", {
      type: "bar",
      data: { labels: queues.labels, datasets: [
        { label: "Offered", data: queues.offered, backgroundColor: BLUE },
        { label: "Abandoned", data: queues.abandoned, backgroundColor: RED }
      ] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true } } }
    }, queues.drill);
  }

  function drawScorecard(data) {
    var rows = data.rows;
    draw("chart-rows", {
      data: { labels: rows.labels, datasets: [
        { type: "bar", label: "Opened", data: rows.opened, backgroundColor: BLUE, yAxisID: "y" },
        { type: "bar", label: "Closed", data: rows.closed, backgroundColor: GREEN, yAxisID: "y" },
        { type: "line", label: "Closed within target (%)", data: rows.within_target, borderColor: ORANGE, backgroundColor: ORANGE, showLine: false, pointRadius: 5, yAxisID: "percent" }
      ] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "Cases" } },
                           percent: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "% within target" } } } }
    }, rows.drill);
    draw("chart-trend", {
      type: "line",
      data: { labels: data.trend.labels, datasets: [
        { label: "Opened", data: data.trend.opened, borderColor: BLUE, backgroundColor: BLUE },
        { label: "Closed", data: data.trend.closed, borderColor: GREEN, backgroundColor: GREEN }
      ] },
      options: { scales: { y: { beginAtZero: true } } }
    });
    draw("chart-backlog", {
      type: "bar",
      data: { labels: data.backlog.labels, datasets: [{ label: "Open cases", data: data.backlog.open, backgroundColor: ORANGE }] },
      options: { scales: { y: { beginAtZero: true } } }
    });
  }

  function render() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var data = chartData();
    if (!data || typeof window.Chart === "undefined") {
      main.setAttribute("data-charts", "none");
      return;
    }
    if (data.rows) { drawScorecard(data); } else { drawDashboard(data); }
    main.setAttribute("data-charts", "drawn");
  }

  function addressOf() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (value !== "") { params.append(name, value); }
    });
    if (params.get("range") !== "custom") {
      params.delete("from");
      params.delete("to");
    }
    return form.getAttribute("action") + "?" + params.toString();
  }

  var latest = 0;

  function reload(push) {
    var url = addressOf();
    var mine = ++latest;  // a slower, older answer never replaces a newer one
    figures.setAttribute("data-loading", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        if (mine !== latest) { return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("figures");
        var freshForm = page.querySelector("form.perf-controls");
        if (!fresh) { throw new Error("no figures"); }
        figures.innerHTML = fresh.innerHTML;
        if (freshForm) {
          ["from", "to"].forEach(function (name) {
            var mine = form.elements.namedItem(name), theirs = freshForm.elements.namedItem(name);
            if (mine && theirs) { mine.value = theirs.value; }
          });
        }
        if (push) { window.history.pushState({ performance: true }, "", url); }
        figures.setAttribute("data-loading", "false");
        var status = document.getElementById("figures-status"), line = figures.querySelector(".period-line");
        if (status && line) { status.textContent = "Figures updated: " + line.textContent.replace(/\s+/g, " ").trim(); }
        render();
      })
      .catch(function () {
        if (mine === latest) {
          window.location.href = url;  // the server's own page, with its message if refused
        }
      });
  }

  function customDates() {
    var custom = form.elements.namedItem("range").value === "custom";
    Array.prototype.forEach.call(form.querySelectorAll(".custom-dates"), function (node) {
      node.classList.toggle("inactive", !custom);
    });
  }

  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "from" || name === "to") {
      form.elements.namedItem("range").value = "custom";
      var from = form.elements.namedItem("from").value, to = form.elements.namedItem("to").value;
      customDates();
      if (!from || !to) { return; }
    }
    customDates();
    reload(true);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    reload(true);
  });
  window.addEventListener("popstate", function () { window.location.reload(); });

  customDates();
  render();
})();
