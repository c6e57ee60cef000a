/* Linli console: charts (ECharts) and the boundary map (Leaflet, no tiles). No build step. */
(function () {
  "use strict";

  var PALETTE = ["#0b5cad", "#2f9e6e", "#d97706", "#7c3aed", "#dc2626", "#0891b2", "#65a30d"];

  function elder() { return document.documentElement.classList.contains("elder"); }

  function initCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.ready) return;
      var src = document.getElementById(el.dataset.chart);
      if (!src) return;
      var c = JSON.parse(src.textContent);
      var size = elder() ? 16 : 12;
      var chart = echarts.init(el, null, { renderer: "svg" });
      var option;
      if (c.kind === "pie") {
        var values = {};
        c.labels.forEach(function (l, i) { values[l] = c.values[i]; });
        option = {
          color: PALETTE, tooltip: { trigger: "item" },
          legend: { bottom: 0, textStyle: { fontSize: size }, formatter: function (name) { return name + " " + values[name]; } },
          series: [{ type: "pie", radius: ["35%", "68%"], center: ["50%", "44%"],
            label: { position: "inside", formatter: "{c}", color: "#fff", fontWeight: "bold", fontSize: size },
            data: c.labels.map(function (l, i) { return { name: l, value: c.values[i] }; }).filter(function (d) { return d.value > 0; }) }]
        };
      } else {
        option = {
          color: PALETTE, tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: c.labels, axisLabel: { fontSize: size, interval: 0, rotate: c.labels.length * 64 > el.clientWidth ? 35 : 0 } },
          yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: size } },
          series: [{ type: "bar", data: c.values, label: { show: true, position: "top", fontSize: size }, barMaxWidth: 48 }]
        };
      }
      chart.setOption(option);
      el.dataset.ready = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  /* A light graticule so a tile-less map still shows scale and orientation. */
  function graticule(map, bounds) {
    var span = Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest());
    var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
    var step = steps.find(function (s) { return span / s <= 10; }) || 10;
    var pad = step * 2, lines = [];
    var s = Math.floor((bounds.getSouth() - pad) / step) * step, n = bounds.getNorth() + pad;
    var w = Math.floor((bounds.getWest() - pad) / step) * step, e = bounds.getEast() + pad;
    for (var lat = s; lat <= n; lat += step) lines.push([[lat, w], [lat, e]]);
    for (var lng = w; lng <= e; lng += step) lines.push([[s, lng], [n, lng]]);
    L.polyline(lines, { color: "#94a3b8", weight: 1, opacity: 0.5, interactive: false, dashArray: "2 4" }).addTo(map);
  }

  function initMap(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.25, keyboard: true });
    var urlTemplate = el.dataset.regionUrl;
    fetch(el.dataset.geojson, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var colours = {};
        var layer = L.geoJSON(data, {
          style: function (f) {
            var p = f.properties || {};
            var i = Object.keys(colours).length;
            colours[f.id || p.id] = colours[f.id || p.id] || PALETTE[i % PALETTE.length];
            return { color: p.self ? "#0f2f57" : colours[f.id || p.id], weight: elder() ? 3 : 2, fillOpacity: p.self ? 0.08 : 0.18 };
          },
          onEachFeature: function (f, lyr) {
            var p = f.properties || {};
            var id = p.id || f.id;
            lyr.bindTooltip(p.name || String(id), { sticky: true });
            if (!p.self && id && urlTemplate) {
              lyr.on("click", function () { window.location.href = urlTemplate.replace(/\/0\/$/, "/" + id + "/"); });
              lyr.on("mouseover", function () { lyr.setStyle({ fillOpacity: 0.35 }); });
              lyr.on("mouseout", function () { layer.resetStyle(lyr); });
            }
          }
        }).addTo(map);
        var bounds = layer.getBounds();
        if (bounds.isValid()) {
          map.fitBounds(bounds, { padding: [16, 16] });
          graticule(map, bounds);
          layer.eachLayer(function (l) {
            var p = l.feature.properties || {};
            if (p.name && l.getBounds) {
              L.marker(l.getBounds().getCenter(), {
                interactive: false, keyboard: false,
                icon: L.divIcon({ className: "map-label", html: "<span>" + p.name.replace(/[<>&]/g, "") + "</span>", iconSize: null })
              }).addTo(map);
            }
          });
          layer.bringToFront();
        } else {
          map.setView([36.65, 117.0], 12);
          el.insertAdjacentHTML("beforeend", '<p class="map-empty">' + (el.dataset.empty || "") + "</p>");
        }
        el.dataset.features = String(data.features ? data.features.length : 0);
      })
      .catch(function () { el.dataset.error = "1"; });
  }

  function init(root) {
    initCharts(root);
    root.querySelectorAll("#region-map, [data-geojson]").forEach(initMap);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
