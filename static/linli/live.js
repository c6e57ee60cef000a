/* Linli console live updates (D4 alarms, A3/A4 access, K2/K4 parking). No build step.
 *
 * An htmx region that should refresh at once when something happens declares
 *   data-live-url="<stream URL>"            the console's server-sent-event view (see linli/console/streams.py)
 *   data-live-events="access"               the event names (= channels) to listen to, space separated
 *   data-live-match='{"gate": 5, "kind": ["denied", "visitor"]}'   optional: every key must equal the
 *                                           event's value (or be one of a list of values)
 * and adds "live" to its hx-trigger (with the same focus filter as its polling). On a matching event this
 * helper fires "live" on the region — at most once a second, so a busy gate or barrier does not turn
 * into a refresh storm. Events carry ids and kinds only; the region re-fetches its rows through its
 * normal (scoped) view. Regions keep their polling: when the stream answers 204 (no live backend, or
 * the server is busy) the browser's EventSource gives up and polling alone keeps the page current.
 * One EventSource per stream URL, closed when the page is left.
 */
(function () {
  "use strict";

  var MIN_INTERVAL_MS = 1000;

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function matches(want, event) {
    return Object.keys(want).every(function (key) {
      var value = event[key];
      return Array.isArray(want[key])
        ? want[key].some(function (w) { return String(w) === String(value); })
        : String(want[key]) === String(value);
    });
  }

  /* Fire "live" on el now, or once at the end of the current interval when it fired recently. */
  function throttled(el) {
    var last = 0, timer = null;
    return function () {
      if (timer) return;
      timer = window.setTimeout(function () {
        timer = null;
        last = Date.now();
        if (window.htmx) window.htmx.trigger(el, "live");
      }, Math.max(0, last + MIN_INTERVAL_MS - Date.now()));
    };
  }

  function init() {
    if (!window.EventSource) return;
    var sources = {};
    document.querySelectorAll("[data-live-url]").forEach(function (el) {
      var url = el.getAttribute("data-live-url");
      if (!url) return;
      var source = sources[url] || (sources[url] = new EventSource(url));
      var want = parse(el.getAttribute("data-live-match") || "{}") || {};
      var refresh = throttled(el);
      (el.getAttribute("data-live-events") || "message").split(/\s+/).forEach(function (name) {
        if (!name) return;
        source.addEventListener(name, function (msg) {
          var event = parse(msg.data);
          if (event && matches(want, event)) refresh();
        });
      });
    });
    window.addEventListener("pagehide", function () {
      Object.keys(sources).forEach(function (url) { sources[url].close(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
