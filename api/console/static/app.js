// scaleout console: relative times, confirmations, following a running
// execution, and logging in with an ACL token. No framework; without ACLs
// everything works without it but the live updates.
//
// Logged in (a token in sessionStorage), the console fetches every page
// and posts every form itself, with the token in an Authorization header,
// and shows the answer in place (history kept): a browser sends no header
// on a plain navigation. A 401 brings the login page back with the
// server's message and forgets the token.
(function () {
  "use strict";
  var KEY = "scaleout.token";
  function token() {
    try { return window.sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }
  function setToken(t) {
    try {
      if (t) window.sessionStorage.setItem(KEY, t); else window.sessionStorage.removeItem(KEY);
    } catch (e) { /* storage refused: the login page says the token is not kept */ }
  }
  function withToken(headers) {
    var h = headers || {};
    var t = token();
    if (t) h["Authorization"] = "Bearer " + t;
    return h;
  }
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
  // The run form shows the parameters of the chosen package only.
  function showParams() {
    var sel = document.getElementById("pkgsel");
    if (!sel) return;
    document.querySelectorAll("fieldset.params[data-package]").forEach(function (fs) {
      fs.hidden = fs.getAttribute("data-package") !== sel.value;
    });
  }
  // show puts a page the server answered in place of this one.
  function show(html, url, status, push) {
    if (status === 401) setToken(""); // refused: the login page says why
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    if (push) window.history.pushState({ console: true }, "", url);
    else window.history.replaceState({ console: true }, "", url);
    if (!doc.querySelector("#live")) window.scrollTo(0, 0);
    init();
  }
  // load fetches a console page (or posts a form) with the token.
  var seq = 0;
  function load(url, opts, push) {
    var mine = ++seq;
    opts = opts || {};
    opts.headers = withToken(opts.headers || { "Accept": "text/html" });
    opts.credentials = "same-origin";
    var post = opts.method === "POST";
    return fetch(url, opts).then(function (r) {
      // A form's answer without a redirect (an error page) stays at the
      // address of the page the form was on.
      var at = post && !r.redirected ? window.location.href : (r.url || url);
      return r.text().then(function (html) {
        if (mine === seq) show(html, at, r.status, push && at !== window.location.href);
      });
    }).catch(function (err) {
      if (mine !== seq) return;
      var box = document.createElement("div");
      box.className = "flash bad";
      box.setAttribute("role", "alert");
      box.textContent = "The console could not reach its agent: " + err;
      var main = document.querySelector("main");
      if (main) main.prepend(box);
    });
  }
  function consoleURL(href) {
    var u = new URL(href, window.location.href);
    if (u.origin !== window.location.origin) return null;
    if (u.pathname !== "/" && u.pathname.indexOf("/ui/") !== 0) return null;
    if (u.pathname.indexOf("/ui/static/") === 0) return null;
    return u;
  }
  document.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    if (ev.target.closest("#logout")) {
      ev.preventDefault();
      setToken("");
      window.location.assign("/ui/?flash=" + encodeURIComponent("Logged out: this tab no longer keeps the token."));
      return;
    }
    if (!token()) return;
    var a = ev.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download")) return;
    var u = consoleURL(a.getAttribute("href"));
    if (!u) return;
    ev.preventDefault();
    load(u.href, null, true);
  });
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
    if (f.id === "login") {
      ev.preventDefault();
      var t = (f.querySelector("[name=token]").value || "").trim();
      if (!t) return;
      setToken(t);
      var back = window.location.pathname === "/ui/login" ? "/ui/" : window.location.href;
      load(back, null, false);
      return;
    }
    if (!token()) return;
    var u = consoleURL(f.getAttribute("action") || window.location.href);
    if (!u) return;
    ev.preventDefault();
    var data;
    try { data = new FormData(f, ev.submitter); } catch (e) { data = new FormData(f); }
    var body = new URLSearchParams(data);
    if ((f.getAttribute("method") || "get").toLowerCase() === "post") {
      load(u.href, { method: "POST", body: body }, true);
    } else {
      u.search = body.toString();
      load(u.href, null, true);
    }
  });
  window.addEventListener("popstate", function (ev) {
    if (ev.state && ev.state.console && token()) load(window.location.href, null, false);
  });
  // Follow a running execution: the server answers the live part once
  // something new happened (or after 20 s), and we swap it in.
  function follow(box) {
    if (box.getAttribute("data-ended") === "true" || !document.body.contains(box)) return;
    var url = box.getAttribute("data-live") + "&after=" + box.getAttribute("data-next");
    fetch(url, { headers: withToken({ "Accept": "text/html" }), credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) {
        return r.text().then(function (html) { show(html, window.location.href, 401, false); return null; });
      }
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      if (html === null || !document.body.contains(box)) return;
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
        if (token()) load(window.location.href, null, false);
        else window.location.reload();
        return;
      }
      follow(box);
    }).catch(function () { setTimeout(function () { follow(box); }, 3000); });
  }
  // init sets up the page shown (at load, and after each page put in place).
  function init() {
    var loginForm = document.getElementById("login");
    if (loginForm && token()) {
      // A page opened by the browser itself (a reload, a typed address)
      // carries no token: ask again with it.
      load(window.location.pathname === "/ui/login" ? "/ui/" : window.location.href, null, false);
      return;
    }
    var out = document.getElementById("logout");
    if (out) out.hidden = !token();
    if (loginForm) {
      var input = loginForm.querySelector("[name=token]");
      if (input) input.focus();
    }
    refreshTimes();
    var sel = document.getElementById("pkgsel");
    if (sel) { sel.addEventListener("change", showParams); showParams(); }
    var box = document.getElementById("live");
    if (box) follow(box);
  }
  document.addEventListener("DOMContentLoaded", function () {
    setInterval(function () { refreshTimes(); }, 15000);
    init();
  });
})();
