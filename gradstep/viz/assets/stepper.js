/* gradstep's backward-pass stepper: one drawing, laid out once; a step only changes classes
   and grad numbers.  Everything is looked up inside one root element, so several steppers
   can share a page (a notebook).  No network, no globals beyond the function below. */
function gradstepStepper(rootId) {
  "use strict";
  var root = document.getElementById(rootId);
  if (!root || root.getAttribute("data-ready")) { return; }
  root.setAttribute("data-ready", "1");
  var data = JSON.parse(root.querySelector("script.gs-data").textContent);
  var P = data.prefix;
  var n = data.steps.length;
  var main = root.querySelector(".gs-main");
  var pane = root.querySelector(".gs-drawing");
  var svg = root.querySelector(".gs-canvas svg");
  var explain = root.querySelector(".gs-explain");
  var counter = root.querySelector(".gs-counter");
  var tables = root.querySelector(".gs-tables");
  function byId(id) { return document.getElementById(P + id); }
  var gradText = data.nodes.map(function (node, i) { return byId("g" + i); });
  var valueNode = data.nodes.map(function (node, i) { return byId("v" + i); });
  var rows = {};
  root.querySelectorAll("tr[data-step]").forEach(function (tr) {
    rows[tr.getAttribute("data-step")] = tr;
  });
  var forwardRows = {};
  root.querySelectorAll("tr[data-node]").forEach(function (tr) {
    forwardRows[tr.getAttribute("data-node")] = tr;
  });
  var lit = [];
  var current = -1;

  function light(el, cls) {
    if (el) { el.classList.add(cls); lit.push([el, cls]); }
  }

  function keepVisible(container, el, across) {
    // scroll the container (never the page) only if el is outside its visible part
    if (!el) { return; }
    var c = container.getBoundingClientRect();
    var r = el.getBoundingClientRect();
    if (r.top < c.top || r.bottom > c.bottom) {
      container.scrollTop += (r.top + r.bottom) / 2 - (c.top + c.bottom) / 2;
    }
    if (across && (r.left < c.left || r.right > c.right)) {
      container.scrollLeft += (r.left + r.right) / 2 - (c.left + c.right) / 2;
    }
  }

  function setLines(lines) {
    explain.textContent = "";
    lines.forEach(function (line, i) {
      var p = document.createElement("div");
      p.className = i === 0 ? "gs-line gs-head" : "gs-line";
      if (line.indexOf("complete: ") === 0) { p.className = "gs-line gs-sum"; }
      p.textContent = line;
      explain.appendChild(p);
    });
  }

  function show(k, fromHash) {
    k = Math.max(0, Math.min(n, k | 0));
    lit.forEach(function (pair) { pair[0].classList.remove(pair[1]); });
    lit = [];
    // every grad as it stood after step k: the initial texts, then each step's new sum
    var grads = data.nodes.map(function (node) { return node.g; });
    for (var s = 0; s < k; s++) { grads[data.steps[s].c] = data.steps[s].g; }
    data.nodes.forEach(function (node, i) {
      var t = gradText[i];
      if (!t) { return; }
      t.textContent = grads[i];
      t.classList.toggle("gs-done", k >= node.last);
      t.classList.toggle("gs-pending", k < node.first);
    });
    if (k === 0) {
      light(valueNode[data.root], "gs-hl-child");
      setLines(data.start);
    } else {
      var step = data.steps[k - 1];
      light(byId(step.e), "gs-hl-edge");
      light(valueNode[step.c], "gs-hl-child");
      light(valueNode[step.n], "gs-hl-node");
      light(byId("v" + step.n + "_op"), "gs-hl-op");
      light(forwardRows[step.c], "gs-row-child");
      light(forwardRows[step.n], "gs-row-node");
      setLines(["step " + k + " / " + n + ": " + step.lines[0]].concat(step.lines.slice(1)));
    }
    light(rows[String(k)], "gs-current");
    counter.textContent = "step " + k + " / " + n;
    current = k;
    keepVisible(tables, rows[String(k)], false);
    keepVisible(pane, k === 0 ? valueNode[data.root] : valueNode[data.steps[k - 1].c], true);
    if (!data.embedded && !fromHash) {
      try { history.replaceState(null, "", "#step=" + k); } catch (e) { /* file: quirks */ }
    }
  }

  // zoom: fit the drawing to its pane, never below a readable text size
  var scale = 1;
  var zoomed = false;
  function applyScale() {
    svg.setAttribute("width", String(data.width * scale));
    svg.setAttribute("height", String(data.height * scale));
  }
  function fitIn(w, h) {
    var s = Math.min((w - 16) / data.width, (h - 16) / data.height);
    return Math.max(data.minScale, Math.min(data.maxScale, s));
  }
  function fit() {
    // side by side; but a wide, low drawing gets the full width above the tables
    root.classList.remove("gs-wide");
    var s = fitIn(pane.clientWidth, pane.clientHeight);
    var tall = main.clientHeight;
    if (data.width * s > pane.clientWidth && data.height * s < 0.45 * tall) {
      root.classList.add("gs-wide");
      s = fitIn(main.clientWidth, 0.5 * tall);
    }
    scale = s;
    zoomed = false;
    applyScale();
  }
  function zoom(factor) {
    scale = Math.max(0.1, Math.min(8, scale * factor));
    zoomed = true;
    applyScale();
  }

  function go(what) {
    if (what === "prev") { show(current - 1); }
    else if (what === "next") { show(current + 1); }
    else if (what === "home") { show(0); }
    else if (what === "end") { show(n); }
  }

  root.querySelectorAll("button[data-go]").forEach(function (b) {
    b.addEventListener("click", function () { go(b.getAttribute("data-go")); });
  });
  root.querySelectorAll("button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var what = b.getAttribute("data-zoom");
      if (what === "fit") { fit(); } else { zoom(what === "in" ? 1.25 : 0.8); }
    });
  });
  Object.keys(rows).forEach(function (k) {
    rows[k].addEventListener("click", function () { show(parseInt(k, 10)); });
  });
  var keyTarget = data.embedded ? root : document;
  keyTarget.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var map = { ArrowLeft: "prev", ArrowRight: "next", Home: "home", End: "end" };
    var what = map[e.key];
    if (!what) { return; }
    e.preventDefault();
    e.stopPropagation();
    go(what);
  });
  pane.addEventListener("wheel", function (e) {
    if (!e.ctrlKey) { return; }
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1);
  }, { passive: false });
  var drag = null;
  pane.addEventListener("mousedown", function (e) {
    drag = [e.clientX, e.clientY, pane.scrollLeft, pane.scrollTop];
    pane.classList.add("gs-dragging");
  });
  window.addEventListener("mouseup", function () {
    drag = null;
    pane.classList.remove("gs-dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    pane.scrollLeft = drag[2] - (e.clientX - drag[0]);
    pane.scrollTop = drag[3] - (e.clientY - drag[1]);
  });
  window.addEventListener("resize", function () { if (!zoomed) { fit(); } });
  if (!data.embedded) {
    window.addEventListener("hashchange", function () { show(fromHash(), true); });
  }
  function fromHash() {
    var m = /step=(\d+)/.exec(window.location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }

  fit();
  show(data.embedded ? 0 : fromHash(), true);
}
