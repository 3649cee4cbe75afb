// The bay screen's live part: the server renders the bays again at each change and sends them
// as server-sent events; this only swaps them in. When the session ends the page reloads (to
// the sign-in page).
(function () {
  "use strict";
  var bays = document.getElementById("bays");
  var live = document.getElementById("live");
  var source = new EventSource("/events");
  source.addEventListener("bays", function (e) {
    bays.innerHTML = e.data;
    live.className = "live";
  });
  source.addEventListener("expired", function () {
    source.close();
    window.location.reload();
  });
  source.onerror = function () {
    live.className = "live lost";
    if (source.readyState === EventSource.CLOSED) {
      window.location.reload();
    }
  };
})();
