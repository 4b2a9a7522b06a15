// Nebula Market front-end: everything on the page is built here from the JSON API.
// Served by the sandbox itself (no CDN). Text goes in with textContent, never innerHTML.
(function () {
  "use strict";
  var token = (document.querySelector('meta[name="nb-token"]') || {}).content || "";
  var app = document.getElementById("app");
  var state = { cursor: 0, loading: false, done: false, cat: "" };

  function api(path) {
    return fetch(path, { headers: { "X-NB-Token": token }, credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { throw new Error("session expired"); }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function link(href, cls, text) { var a = el("a", cls, text); a.href = href; return a; }

  function card(item) {
    var c = el("div", "nb-card");
    c.setAttribute("data-id", item.id);
    c.appendChild(link("/item/" + item.id, "nb-card-title", item.title));
    c.appendChild(el("span", "nb-card-vendor", item.vendor));
    c.appendChild(el("span", "nb-card-price", item.price.amount + " " + item.price.currency));
    c.appendChild(el("span", "nb-card-ship", item.ships_from + " → " + item.ships_to));
    return c;
  }

  function loadMore() {
    if (state.loading || state.done) { return; }
    state.loading = true;
    var q = "/api/listings?limit=24&cursor=" + state.cursor + (state.cat ? "&cat=" + encodeURIComponent(state.cat) : "");
    api(q).then(function (data) {
      var grid = document.getElementById("nb-grid");
      data.items.forEach(function (it) { grid.appendChild(card(it)); });
      if (data.next === null) { state.done = true; document.getElementById("nb-end").textContent = "No more listings"; }
      else { state.cursor = data.next; }
      state.loading = false;
      maybeMore();
    }).catch(function (e) { state.loading = false; document.getElementById("nb-end").textContent = e.message; });
  }
  function maybeMore() {
    if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 300) { loadMore(); }
  }

  function grid(cat) {
    state.cat = cat || "";
    app.textContent = "";
    app.appendChild(el("h1", "nb-heading", cat ? "Category: " + cat : "All listings"));
    var g = el("div", "nb-grid"); g.id = "nb-grid"; app.appendChild(g);
    var end = el("div", "nb-end", "Loading…"); end.id = "nb-end"; app.appendChild(end);
    window.addEventListener("scroll", maybeMore);
    loadMore();
  }

  function item(id) {
    api("/api/listing/" + encodeURIComponent(id)).then(function (d) {
      app.textContent = "";
      var box = el("div", "nb-item"); box.setAttribute("data-id", d.id);
      box.appendChild(el("h1", "nb-item-title", d.title));
      var v = el("div", "nb-item-vendor"); v.appendChild(link("/vendor/" + encodeURIComponent(d.vendor), "nb-vendor-link", d.vendor)); box.appendChild(v);
      box.appendChild(el("div", "nb-item-price", d.price.amount + " " + d.price.currency));
      box.appendChild(el("div", "nb-item-from", d.ships_from));
      box.appendChild(el("div", "nb-item-to", d.ships_to));
      box.appendChild(el("div", "nb-item-stock", d.available ? "In stock" : "Sold out"));
      var t = el("ul", "nb-tiers");
      d.tiers.forEach(function (tier) {
        var li = el("li", "nb-tier"); li.appendChild(el("span", "nb-qty", tier.quantity));
        li.appendChild(el("span", "nb-tier-price", tier.price + " " + d.price.currency)); t.appendChild(li);
      });
      box.appendChild(t);
      box.appendChild(el("pre", "nb-desc", d.description));
      app.appendChild(box);
    }).catch(function (e) { app.textContent = "Error: " + e.message; });
  }

  function vendor(handle) {
    api("/api/vendor/" + encodeURIComponent(handle)).then(function (v) {
      app.textContent = "";
      var box = el("div", "nb-vendor"); box.setAttribute("data-vendor", v.handle);
      box.appendChild(el("h1", "nb-vendor-name", v.handle));
      box.appendChild(el("div", "nb-vendor-joined", v.joined));
      box.appendChild(el("div", "nb-vendor-sales", v.sales));
      box.appendChild(el("div", "nb-vendor-feedback", v.feedback));
      box.appendChild(el("pre", "nb-vendor-about", v.about));
      box.appendChild(el("pre", "nb-vendor-pgp", v.pgp));
      app.appendChild(box);
    }).catch(function (e) { app.textContent = "Error: " + e.message; });
  }

  var path = window.location.pathname;
  if (path.indexOf("/item/") === 0) { item(path.slice(6)); }
  else if (path.indexOf("/vendor/") === 0) { vendor(decodeURIComponent(path.slice(8))); }
  else if (path.indexOf("/c/") === 0) { grid(path.slice(3)); }
  else { grid(""); }
})();
