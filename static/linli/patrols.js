/* Linli console — grid patrols (C6): task map with geolocation and map pick, route editor map,
   "who patrolled where" map. Leaflet without tiles: boundaries from our own GeoJSON. No build step. */
(function () {
  "use strict";

  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function elder() { return document.documentElement.classList.contains("elder"); }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function newMap(el) { return L.map(el, { attributionControl: false, zoomSnap: 0.25, keyboard: true }); }
  function boundaries(fc, group) {
    L.geoJSON(fc, {
      style: function () { return { color: "#0f2f57", weight: elder() ? 3 : 2, fillOpacity: 0.05 }; },
      onEachFeature: function (f, lyr) { if (f.properties && f.properties.name) lyr.bindTooltip(esc(f.properties.name), { sticky: true }); }
    }).addTo(group);
  }
  function fit(map, group) {
    var b = group.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [16, 16], maxZoom: 18 }); else map.setView([36.65, 117.0], 13);
  }
  /* A checkpoint: its marker (in ``group``, which the map fits) and its radius (in ``radii``: a circle
     has no bounds until the map has a view). */
  function checkpoint(cp, group, radii) {
    var colour = cp.reached ? "#2f9e6e" : "#0b5cad";
    L.circle([cp.lat, cp.lng], { radius: cp.radius, color: colour, weight: 1, fillOpacity: 0.12, interactive: false }).addTo(radii);
    L.circleMarker([cp.lat, cp.lng], { radius: elder() ? 9 : 7, color: "#1f2937", weight: 1, fillColor: colour, fillOpacity: 0.95 })
      .bindTooltip(esc((cp.seq ? cp.seq + ". " : "") + cp.name + (cp.route ? " · " + cp.route : ""))).addTo(group);
  }

  /* ---- location fields: browser geolocation, or a point picked on the map --------------------------------- */
  var pickMarker = null;
  function setLocation(form, lat, lng, accuracy, source, map) {
    form.elements.lat.value = lat.toFixed(6);
    form.elements.lng.value = lng.toFixed(6);
    if (form.elements.accuracy) form.elements.accuracy.value = accuracy == null ? "" : Math.round(accuracy);
    if (form.elements.source) form.elements.source.value = source;
    if (map) {
      if (pickMarker) pickMarker.setLatLng([lat, lng]);
      else pickMarker = L.marker([lat, lng], { keyboard: false, title: "" }).addTo(map);
    }
  }
  var taskMap = null;
  function initGeoButtons() {
    document.querySelectorAll("[data-geo]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var form = btn.closest("form"), status = form.querySelector("[data-geo-status]");
        if (!navigator.geolocation) { status.textContent = btn.dataset.unavailable; return; }
        status.textContent = btn.dataset.busy;
        navigator.geolocation.getCurrentPosition(function (pos) {
          setLocation(form, pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy, "gps", form.id === "checkin-form" ? taskMap : null);
          status.textContent = btn.dataset.ok + " " + Math.round(pos.coords.accuracy) + " m";
        }, function () { status.textContent = btn.dataset.failed; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
      });
    });
  }

  /* ---- one task: route, checkpoints, check-ins; click to pick the position ------------------------------- */
  function initTaskMap(el) {
    var map = taskMap = newMap(el);
    var radii = L.layerGroup().addTo(map), group = L.featureGroup().addTo(map);
    getJSON(el.dataset.src).then(function (data) {
      boundaries(data.boundaries, group);
      data.checkpoints.forEach(function (cp) { checkpoint(cp, group, radii); });
      L.polyline(data.checkpoints.map(function (cp) { return [cp.lat, cp.lng]; }), { color: "#0b5cad", weight: 2, dashArray: "6 6", interactive: false }).addTo(group);
      var walked = data.checkins.map(function (c) { return [c.lat, c.lng]; });
      if (walked.length > 1) L.polyline(walked, { color: "#f59e0b", weight: elder() ? 4 : 3, interactive: false }).addTo(group);
      data.checkins.forEach(function (c) {
        L.circleMarker([c.lat, c.lng], { radius: 6, color: "#1f2937", weight: 1, fillColor: c.off_route ? "#dc2626" : "#f59e0b", fillOpacity: 0.95 })
          .bindTooltip(esc(c.at + " " + c.name)).addTo(group);
      });
      fit(map, group);
      el.dataset.checkpoints = String(data.checkpoints.length);
    }).catch(function (e) { el.dataset.error = String((e && e.message) || 1); map.setView([36.65, 117.0], 13); });
    var form = document.getElementById("checkin-form");
    if (form && el.dataset.canPick) {
      map.on("click", function (e) {
        setLocation(form, e.latlng.lat, e.latlng.lng, null, "map", map);
        var status = form.querySelector("[data-geo-status]");
        if (status) status.textContent = el.getAttribute("data-picked") || "";
      });
    }
  }

  /* ---- route editor: the checkpoint table and the map stay in step ------------------------------------------ */
  function initRouteEditor(el) {
    var map = newMap(el), group = L.featureGroup().addTo(map), markers = L.layerGroup().addTo(map);
    var rows = document.getElementById("cp-rows"), pointName = el.dataset.pointName || "点位";  /* "点位3", "Point 3" */
    function renumber() {
      markers.clearLayers();
      rows.querySelectorAll("tr.cp-row").forEach(function (tr, i) {
        tr.querySelector(".cp-n").textContent = String(i + 1);
        var lat = parseFloat(tr.querySelector("[name=cp_lat]").value), lng = parseFloat(tr.querySelector("[name=cp_lng]").value);
        if (isFinite(lat) && isFinite(lng)) {
          var name = tr.querySelector("[name=cp_name]").value || "";
          L.circleMarker([lat, lng], { radius: 7, color: "#1f2937", weight: 1, fillColor: "#0b5cad", fillOpacity: 0.95 })
            .bindTooltip(esc((i + 1) + ". " + name), { permanent: false }).addTo(markers);
        }
      });
    }
    function blankRow() {
      var empty = Array.prototype.find.call(rows.querySelectorAll("tr.cp-row"), function (tr) {
        return !tr.querySelector("[name=cp_lat]").value && !tr.querySelector("[name=cp_lng]").value && !tr.querySelector("[name=cp_name]").value;
      });
      if (empty) return empty;
      var tr = rows.querySelector("tr.cp-row").cloneNode(true);
      tr.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      rows.appendChild(tr);
      return tr;
    }
    map.on("click", function (e) {
      var tr = blankRow(), n = Array.prototype.indexOf.call(rows.children, tr) + 1;
      tr.querySelector("[name=cp_lat]").value = e.latlng.lat.toFixed(6);
      tr.querySelector("[name=cp_lng]").value = e.latlng.lng.toFixed(6);
      if (!tr.querySelector("[name=cp_name]").value) tr.querySelector("[name=cp_name]").value = pointName + (/[A-Za-z]$/.test(pointName) ? " " : "") + n;
      renumber();
    });
    rows.addEventListener("click", function (e) {
      if (!e.target.classList.contains("cp-del")) return;
      var tr = e.target.closest("tr");
      if (rows.querySelectorAll("tr.cp-row").length > 1) tr.remove(); else tr.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      renumber();
    });
    rows.addEventListener("change", renumber);
    document.getElementById("cp-add").addEventListener("click", function () { blankRow().querySelector("[name=cp_name]").focus(); renumber(); });
    getJSON(el.dataset.grids).then(function (fc) {
      boundaries(fc, group);
      renumber();
      var b = markers.getLayers().length ? L.featureGroup(markers.getLayers()).getBounds() : group.getBounds();
      if (b.isValid()) map.fitBounds(b, { padding: [24, 24], maxZoom: 17 }); else map.setView([36.65, 117.0], 13);
    }).catch(function () { el.dataset.error = "1"; map.setView([36.65, 117.0], 13); renumber(); });
  }

  /* ---- who patrolled where: one coloured path per worker over the grids ---------------------------------- */
  function initPatrolMap(el) {
    var map = newMap(el), radii = L.layerGroup().addTo(map), group = L.featureGroup().addTo(map);
    var status = document.getElementById("patrol-map-status"), legend = document.getElementById("track-legend");
    getJSON(el.dataset.src).then(function (data) {
      boundaries(data.boundaries, group);
      data.checkpoints.forEach(function (cp) { checkpoint(cp, group, radii); });
      var items = [], n = 0;
      data.tracks.forEach(function (t) {
        var line = t.points.map(function (p) { return [p.lat, p.lng]; });
        if (line.length > 1) L.polyline(line, { color: t.colour, weight: elder() ? 5 : 3, opacity: 0.85 }).bindTooltip(esc(t.worker)).addTo(group);
        t.points.forEach(function (p) {
          n += 1;
          L.circleMarker([p.lat, p.lng], { radius: 6, color: t.colour, weight: 2, fillColor: p.off_route ? "#dc2626" : "#fff", fillOpacity: 1 })
            .bindTooltip(esc(t.worker + " " + p.at + " " + p.name + " · " + p.route))
            .on("click", function () { window.location.href = p.url; }).addTo(group);
        });
        items.push('<li><i style="background:' + esc(t.colour) + '"></i>' + esc(t.worker) + "（" + t.points.length + "）</li>");
      });
      legend.innerHTML = items.join("");
      fit(map, group);
      el.dataset.tracks = String(data.tracks.length);
      status.textContent = n ? (el.dataset.count || "") + " " + n : (el.dataset.empty || "");
    }).catch(function (e) { el.dataset.error = String((e && e.message) || 1); map.setView([36.65, 117.0], 13); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initGeoButtons();
    if (!window.L) return;
    var t = document.getElementById("task-map"); if (t) initTaskMap(t);
    var r = document.getElementById("route-map"); if (r) initRouteEditor(r);
    var p = document.getElementById("patrol-map"); if (p) initPatrolMap(p);
  });
})();
