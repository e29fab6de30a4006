// scaleout console: relative times, confirmations, and following a
// running execution. No framework; everything works without it but the
// live updates.
(function () {
  "use strict";
  function ago(t) {
    var d = (Date.now() - t.getTime()) / 1000;
    if (d < -60) return "in the future";
    if (d < 10) return "just now";
    if (d < 60) return Math.floor(d) + " s ago";
    if (d < 3600) return Math.floor(d / 60) + " min ago";
    if (d < 172800) return Math.floor(d / 3600) + " h ago";
    return Math.floor(d / 86400) + " days ago";
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time.ago").forEach(function (el) {
      var t = new Date(el.getAttribute("datetime"));
      if (!isNaN(t)) el.textContent = ago(t);
    });
  }
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  // The run form shows the parameters of the chosen package only.
  function showParams() {
    var sel = document.getElementById("pkgsel");
    if (!sel) return;
    document.querySelectorAll("fieldset.params[data-package]").forEach(function (fs) {
      fs.hidden = fs.getAttribute("data-package") !== sel.value;
    });
  }
  // Follow a running execution: the server answers the live part once
  // something new happened (or after 20 s), and we swap it in.
  function follow(box) {
    if (box.getAttribute("data-ended") === "true") return;
    var url = box.getAttribute("data-live") + "&after=" + box.getAttribute("data-next");
    fetch(url, { headers: { "Accept": "text/html" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var tmp = document.createElement("div");
      tmp.innerHTML = html;
      var fresh = tmp.querySelector("#live-new");
      if (!fresh) throw new Error("no live part");
      box.innerHTML = fresh.innerHTML;
      box.setAttribute("data-next", fresh.getAttribute("data-next"));
      box.setAttribute("data-ended", fresh.getAttribute("data-ended"));
      refreshTimes(box);
      if (fresh.getAttribute("data-ended") === "true") {
        // The header's actions (stop, run again) depend on the status.
        window.location.reload();
        return;
      }
      follow(box);
    }).catch(function () { setTimeout(function () { follow(box); }, 3000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    refreshTimes();
    setInterval(refreshTimes, 15000);
    var sel = document.getElementById("pkgsel");
    if (sel) { sel.addEventListener("change", showParams); showParams(); }
    var box = document.getElementById("live");
    if (box) follow(box);
  });
})();
