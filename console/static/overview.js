// The Overview's chart: decisions/s and p99 latency per minute, drawn with uPlot from the
// "chart" events of /console/overview/stream (JSON: {x: [epoch s], rate: [], p99: []}).
// htmx's SSE extension delivers the events; the "figures" event it swaps by itself.
(function () {
  "use strict";

  var RATE = "#1f6feb";
  var P99 = "#d1242f";
  var AXIS = "#5b6476";  // not a series colour: a test tells the lines from the labels
  var plot = null;

  function options(width) {
    return {
      width: width,
      height: 240,
      // The page speaks UTC, as the ledger does.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      series: [
        {},
        { label: "decisions/s", scale: "rate", stroke: RATE, width: 2,
          value: function (u, v) { return v == null ? "–" : v.toFixed(2); } },
        { label: "p99 ms", scale: "ms", stroke: P99, width: 2, spanGaps: false,
          value: function (u, v) { return v == null ? "–" : v.toFixed(0) + " ms"; } }
      ],
      scales: { rate: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } },
                ms: { range: function (u, min, max) { return [0, Math.max(10, max * 1.1)]; } } },
      axes: [
        { stroke: AXIS },
        { scale: "rate", label: "decisions/s", stroke: AXIS },
        { scale: "ms", label: "p99 ms", side: 1, stroke: AXIS, grid: { show: false } }
      ]
    };
  }

  function draw(element, data) {
    var series = [data.x, data.rate, data.p99];
    if (plot === null) {
      element.textContent = "";
      plot = new uPlot(options(element.clientWidth || 800), series, element);
    } else {
      plot.setData(series);
    }
    element.dataset.points = String(data.x.length);
  }

  // The extension swaps an event's data into its element unless this event is cancelled:
  // the chart's JSON is drawn here instead.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var element = event.target;
    if (!element || element.id !== "chart") {
      return;
    }
    event.preventDefault();
    draw(element, JSON.parse(event.detail.data));
  });

  // "end": the server ended the stream because the session ended; sign in again.
  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail && event.detail.type === "message") {
      window.location.assign("/console/signin");
    }
  });

  window.addEventListener("resize", function () {
    var element = document.getElementById("chart");
    if (plot !== null && element) {
      plot.setSize({ width: element.clientWidth, height: 240 });
    }
  });
})();
