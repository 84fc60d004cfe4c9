/* Draws the performance review's charts from the page's own JSON (the same figures as its
   tables). Without JavaScript, or if this fails, the tables carry everything. */
(function () {
  "use strict";

  var main = document.getElementById("main");
  if (!main || typeof window.Chart === "undefined") { return; }
  var url = main.getAttribute("data-figures-url");
  var BLUE = "#0969da", GREEN = "#1a7f37", ORANGE = "#bc4c00", GREY = "#8c959f";

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    new window.Chart(canvas, config);
  }

  function pick(rows, name) { return rows.map(function (r) { return r[name]; }); }

  function render(figures) {
    var monthly = figures.trends.monthly, weekly = figures.trends.weekly;
    draw("chart-monthly", {
      data: {
        labels: pick(monthly, "label"),
        datasets: [
          { type: "bar", label: "Opened", data: pick(monthly, "opened"), backgroundColor: BLUE, yAxisID: "y" },
          { type: "bar", label: "Closed", data: pick(monthly, "closed"), backgroundColor: GREEN, yAxisID: "y" },
          { type: "line", label: "Closed on time (%)", data: pick(monthly, "on_time_percent"), borderColor: ORANGE, backgroundColor: ORANGE, yAxisID: "percent", spanGaps: true }
        ]
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "Requests" } },
                           percent: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "% on time" } } } }
    });
    draw("chart-weekly", {
      type: "line",
      data: {
        labels: weekly.map(function (w) { return w.start; }),
        datasets: [
          { label: "Opened", data: pick(weekly, "opened"), borderColor: BLUE, backgroundColor: BLUE },
          { label: "Closed", data: pick(weekly, "closed"), borderColor: GREEN, backgroundColor: GREEN }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });
    draw("chart-backlog", {
      type: "bar",
      data: { labels: pick(figures.backlog.by_age, "label"),
              datasets: [{ label: "Open requests", data: pick(figures.backlog.by_age, "open"), backgroundColor: ORANGE }] },
      options: { scales: { y: { beginAtZero: true } } }
    });
    draw("chart-channels", {
      type: "bar",
      data: { labels: pick(figures.by_channel, "label"),
              datasets: [{ label: "Requests opened", data: pick(figures.by_channel, "opened"), backgroundColor: BLUE }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true } } }
    });
    var types = figures.by_service_type.filter(function (t) { return t.closed > 0; })
      .sort(function (a, b) { return b.closed - a.closed; }).slice(0, 20);
    draw("chart-service-types", {
      type: "bar",
      data: { labels: pick(types, "label"),
              datasets: [
                { label: "Median days to close", data: pick(types, "median_days"), backgroundColor: BLUE },
                { label: "90th percentile", data: pick(types, "p90_days"), backgroundColor: GREY },
                { label: "Target (days)", data: pick(types, "target_days"), backgroundColor: GREEN }
              ] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "Days (the 20 service types with most closures)" } } } }
    });
    main.setAttribute("data-charts", "drawn");
  }

  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
    .then(render)
    .catch(function () { main.setAttribute("data-charts", "failed"); });
})();
