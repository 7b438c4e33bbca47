// Draws the dashboard's charts with uPlot from /admin/dashboard.json and refreshes them every 5 s.
// The page shows the same figures as tables without JavaScript; this only adds the pictures.
(function () {
  "use strict";
  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined") return;
  var source = root.getAttribute("data-source");
  var COLORS = ["#2e7d32", "#c77700", "#b3261e", "#6a1b9a"];
  var charts = {};

  function width(el) { return Math.max(320, el.clientWidth - 8); }

  // The page shows UTC; so do the charts' time axes.
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  function series(labels, colors, fill) {
    var s = [{ value: function (u, v) { return v == null ? "" : new Date(v * 1000).toISOString().slice(11, 16); } }];
    labels.forEach(function (label, i) {
      s.push({ label: label, stroke: colors[i % colors.length], width: 2, points: { show: true, size: 4 },
               fill: fill ? colors[i % colors.length] + "22" : undefined });
    });
    return s;
  }

  function draw(id, labels, colors, data, fill) {
    var el = document.getElementById(id);
    if (charts[id]) { charts[id].setData(data); return; }
    charts[id] = new uPlot({
      width: width(el), height: 220, series: series(labels, colors, fill), tzDate: utc, legend: { live: false },
      axes: [{}, { size: 50 }], scales: { x: { time: true } }
    }, data, el);
  }

  function render(board) {
    var xs = board.minutes.map(function (m) { return m.minute_ms / 1000; });
    var statuses = board.statuses;
    draw("chart-status", statuses, COLORS,
      [xs].concat(statuses.map(function (s) { return board.minutes.map(function (m) { return m.by_status[s]; }); })), true);
    draw("chart-latency", ["p50", "p90", "p99"], ["#2458c6", "#c77700", "#b3261e"], [xs,
      board.minutes.map(function (m) { return m.total ? m.p50 : null; }),
      board.minutes.map(function (m) { return m.total ? m.p90 : null; }),
      board.minutes.map(function (m) { return m.total ? m.p99 : null; })], false);
    draw("chart-starts", ["cold", "warm"], ["#2458c6", "#7aa6e8"], [xs,
      board.minutes.map(function (m) { return m.cold; }),
      board.minutes.map(function (m) { return m.warm; })], true);
    var total = document.getElementById("total");
    if (total) total.textContent = board.total;
  }

  function load() {
    fetch(source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (board) { if (board) render(board); })
      .catch(function () { /* keep the last picture; the next refresh tries again */ });
  }

  load();
  setInterval(load, 5000);
})();
