/* Draws the staffing page's chart (forecast, actual, agents to schedule per half-hour) from
   the page's own JSON, the same figures as its tables. Without JavaScript, or if this fails,
   the tables carry everything; the calculator is a plain form. */
(function () {
  "use strict";

  var canvas = document.getElementById("chart-forecast");
  var source = document.getElementById("staffing-data");
  if (!canvas || !source || typeof window.Chart === "undefined") { return; }
  var figures = JSON.parse(source.textContent);
  var BLUE = "#0969da", GREY = "#8c959f", ORANGE = "#bc4c00";

  new window.Chart(canvas, {
    data: {
      labels: figures.labels,
      datasets: [
        { type: "line", label: "Forecast", data: figures.forecast, borderColor: BLUE,
          backgroundColor: BLUE, pointRadius: 0, borderWidth: 2, yAxisID: "y", order: 1 },
        { type: "bar", label: "Actual", data: figures.actual, backgroundColor: GREY,
          yAxisID: "y", order: 2 },
        { type: "line", label: "Agents to schedule", data: figures.scheduled, borderColor: ORANGE,
          backgroundColor: ORANGE, pointRadius: 0, borderWidth: 1.5, stepped: true,
          yAxisID: "agents", order: 0 }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { autoSkip: true, maxTicksLimit: 14, maxRotation: 0 } },
        y: { beginAtZero: true, title: { display: true, text: "Contacts per half-hour" } },
        agents: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                  title: { display: true, text: "Agents" } }
      }
    }
  });
}());
