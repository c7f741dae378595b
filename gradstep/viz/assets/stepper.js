/* gradstep's backward-pass stepper: one drawing, laid out once; a step only changes classes
   and grad numbers.  Everything is looked up inside one root element, so several steppers
   can share a page (a notebook).  No network, no globals beyond the function below.
   A "position" is a place in the current sequence: 0 is the start, then each entry of the
   sequence applies one edge (edge view, or an open neuron) or a closed neuron's edges. */
function gradstepStepper(rootId) {
  "use strict";
  var root = document.getElementById(rootId);
  if (!root || root.getAttribute("data-ready")) { return; }
  root.setAttribute("data-ready", "1");
  var data = JSON.parse(root.querySelector("script.gs-data").textContent);
  var P = data.prefix;
  var n = data.steps.length;
  // the script runs: its controls replace the static copy's note and picture (a page without
  // scripts shows no dead button: the script makes them)
  var note = root.querySelector(".gs-static-note");
  if (note) { note.parentNode.removeChild(note); }
  var copy = root.querySelector(".gs-static-img");
  if (copy) { copy.parentNode.removeChild(copy); }
  root.querySelector(".gs-title").insertAdjacentHTML("afterend", data.controls);
  root.removeAttribute("data-static");
  var main = root.querySelector(".gs-main");
  var pane = root.querySelector(".gs-drawing");
  var edgeCanvas = root.querySelector('.gs-canvas[data-drawing="edges"]');
  var boxCanvas = root.querySelector('.gs-canvas[data-drawing="neurons"]');
  var drawings = {
    edges: { svg: edgeCanvas.querySelector("svg"), width: data.width, height: data.height,
      minScale: data.minScale, scale: 1, zoomed: false }
  };
  if (boxCanvas && data.boxes) {
    drawings.neurons = { svg: boxCanvas.querySelector("svg"), width: data.boxes.width,
      height: data.boxes.height, minScale: data.boxes.minScale, scale: 1, zoomed: false };
  }
  var drawn = drawings.edges;
  var explain = root.querySelector(".gs-explain");
  var counter = root.querySelector(".gs-counter");
  var tables = root.querySelector(".gs-tables");
  function byId(id) { return document.getElementById(P + id); }
  var gradText = data.nodes.map(function (node, i) { return byId("g" + i); });
  var boxText = data.nodes.map(function (node, i) { return byId("h" + i); });
  function box(i) { return data.rep && data.rep[i] ? byId(data.rep[i]) : null; }
  var valueNode = data.nodes.map(function (node, i) { return byId("v" + i); });
  var rows = {};
  root.querySelectorAll("tr[data-step]").forEach(function (tr) {
    rows[tr.getAttribute("data-step")] = tr;
  });
  var answers = {};  // step -> [[cell, text], ...]
  Object.keys(rows).forEach(function (k) {
    answers[k] = [];
    rows[k].querySelectorAll("td.gs-ans").forEach(function (td) {
      answers[k].push([td, td.textContent]);
    });
  });
  var forwardRows = {};
  root.querySelectorAll("tr[data-node]").forEach(function (tr) {
    forwardRows[tr.getAttribute("data-node")] = tr;
  });
  var buttons = {};
  root.querySelectorAll("button[data-toggle]").forEach(function (b) {
    buttons[b.getAttribute("data-toggle")] = b;
  });
  var view = data.view;        // "edges", "neurons" or "layers"
  var revealAll = data.reveal === "all";
  var opened = {};             // neuron index -> true when open
  var openedLayer = {};        // layer index -> true when open
  // the current sequence: {steps: [k…], j: neuron or -1, layer: layer or -1, whole, isLayer}
  var seq = [];
  var lit = [];
  var current = 0;
  var views = ["neurons"].concat(data.layers ? ["layers"] : []).concat(["edges"]);

  function step1(k, j, layer) { return { steps: [k], j: j, layer: layer, whole: false }; }
  function pushNeuron(j, layer) {
    var neuron = data.neurons[j];
    if (opened[j]) {
      neuron.steps.forEach(function (k) { seq.push(step1(k, j, layer)); });
    } else {
      seq.push({ steps: neuron.steps, j: j, layer: layer, whole: true });
    }
  }
  function build() {
    seq = [];
    if (view === "edges") {
      for (var k = 1; k <= n; k++) { seq.push(step1(k, -1, -1)); }
    } else if (view === "layers") {
      data.layerUnits.forEach(function (u) {
        if (u > 0) { seq.push(step1(u, -1, -1)); return; }
        var l = -u - 1;
        var members = data.layers[l].neurons;
        if (openedLayer[l]) {
          members.forEach(function (j) { pushNeuron(j, l); });
        } else {
          var steps = [];
          members.forEach(function (j) { steps = steps.concat(data.neurons[j].steps); });
          seq.push({ steps: steps, j: -1, layer: l, whole: true, isLayer: true });
        }
      });
    } else {
      data.units.forEach(function (u) {
        if (u > 0) { seq.push(step1(u, -1, -1)); } else { pushNeuron(-u - 1, -1); }
      });
    }
  }
  function goFirst(test) {
    // show the first position of the sequence that passes the test
    for (var q = 0; q < seq.length; q++) {
      if (test(seq[q])) { show(q + 1); return; }
    }
  }

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

  function show(p, fromHash) {
    p = Math.max(0, Math.min(seq.length, p | 0));
    lit.forEach(function (pair) { pair[0].classList.remove(pair[1]); });
    lit = [];
    // every grad as it stood after position p: the initial texts, then each step's new sum
    var grads = data.nodes.map(function (node) { return node.g; });
    var got = data.nodes.map(function () { return 0; });
    var applied = {};
    for (var q = 0; q < p; q++) {
      seq[q].steps.forEach(function (k) {
        var s = data.steps[k - 1];
        grads[s.c] = view === "edges" ? s.g : s.gn;
        got[s.c] += 1;
        applied[k] = true;
      });
    }
    data.nodes.forEach(function (node, i) {
      [gradText[i], boxText[i]].forEach(function (t) {
        if (!t) { return; }
        t.textContent = grads[i];
        t.classList.toggle("gs-done", got[i] >= node.count);
        t.classList.toggle("gs-pending", node.count > 0 && got[i] === 0);
      });
    });
    useDrawing(p);
    Object.keys(answers).forEach(function (k) {
      var shown = revealAll || k === "0" || applied[k];
      answers[k].forEach(function (pair) { pair[0].textContent = shown ? pair[1] : ""; });
      rows[k].classList.toggle("gs-ahead", !shown);
    });
    var entry = p > 0 ? seq[p - 1] : null;
    var focusNode;
    if (!entry) {
      light(valueNode[data.root], "gs-hl-child");
      setLines(data.start);
      light(rows["0"], "gs-current");
      focusNode = valueNode[data.root];
    } else if (entry.isLayer) {
      var layer = data.layers[entry.layer];
      layer.neurons.forEach(function (j) { lightNeuron(j); });
      entry.steps.forEach(function (k) { light(rows[String(k)], "gs-current"); });
      setLines(["step " + p + " / " + seq.length + ": " + layer.lines[0]]
        .concat(layer.lines.slice(1)));
      focusNode = drawn === drawings.edges ? null : byId("nb" + layer.neurons[0]);
    } else if (entry.whole) {
      var neuron = data.neurons[entry.j];
      lightNeuron(entry.j);
      entry.steps.forEach(function (k) { light(rows[String(k)], "gs-current"); });
      setLines(["step " + p + " / " + seq.length + ": " + neuron.lines[0]]
        .concat(neuron.lines.slice(1)));
      focusNode = drawn === drawings.edges ? valueNode[neuron.out] : byId("nb" + entry.j);
    } else {
      var k = entry.steps[0];
      var step = data.steps[k - 1];
      if (entry.j >= 0) { light(byId(data.neurons[entry.j].cluster), "gs-open-neuron"); }
      light(byId(step.e), "gs-hl-edge");
      light(byId("q" + step.e.slice(1)), "gs-hl-edge");
      light(box(step.c), "gs-hl-child");
      light(box(step.n), "gs-hl-node");
      light(valueNode[step.c], "gs-hl-child");
      light(valueNode[step.n], "gs-hl-node");
      light(byId("v" + step.n + "_op"), "gs-hl-op");
      light(forwardRows[step.c], "gs-row-child");
      light(forwardRows[step.n], "gs-row-node");
      light(rows[String(k)], "gs-current");
      var head = "step " + p + " / " + seq.length + (entry.j >= 0
        ? " (edge " + (data.neurons[entry.j].steps.indexOf(k) + 1) + " of neuron "
          + data.neurons[entry.j].scope + ")"
        : "") + ": ";
      setLines([head + step.lines[0]].concat(step.lines.slice(1)));
      focusNode = drawn === drawings.edges ? valueNode[step.c] : box(step.c);
    }
    counter.textContent = "step " + p + " / " + seq.length;
    current = p;
    var open = buttons.open;
    if (open) {
      var what = !entry || view === "edges" ? ""
        : entry.isLayer ? "open layer"
        : entry.j >= 0 ? (entry.whole ? "open neuron" : "close neuron")
        : "";
      open.disabled = !what;
      open.textContent = what || "open neuron";
    }
    var first = entry ? rows[String(entry.steps[0])] : rows["0"];
    keepVisible(tables, first, false);
    keepVisible(pane, focusNode, true);
    if (!data.embedded && !fromHash) {
      try { history.replaceState(null, "", "#step=" + p); } catch (e) { /* file: quirks */ }
    }
  }

  function lightNeuron(j) {
    // a neuron's box, the values it passes gradients to and the edges they flow down
    var neuron = data.neurons[j];
    light(byId(neuron.cluster), "gs-hl-neuron");
    light(valueNode[neuron.out], "gs-hl-node");
    light(byId("nb" + j), "gs-hl-node");
    neuron.recv.forEach(function (i) {
      light(valueNode[i], "gs-hl-child");
      if (data.rep[i] !== "nb" + j) { light(box(i), "gs-hl-child"); }
      light(byId("f" + j + "_" + i), "gs-hl-edge");
    });
  }

  function toggleOpen() {
    // Enter: open the current layer into its neurons, a neuron into its edges; on an edge of
    // an open neuron, close that neuron
    var entry = current > 0 ? seq[current - 1] : null;
    if (!entry || view === "edges") { return; }
    if (entry.isLayer) {
      var l = entry.layer;
      openedLayer[l] = true;
      build();
      goFirst(function (e) { return e.layer === l; });
    } else if (entry.j >= 0) {
      var j = entry.j;
      opened[j] = !opened[j];
      build();
      goFirst(function (e) { return e.j === j; });
    }
  }
  function closeInner() {
    // Escape: close the open neuron the current edge is in, else the open layer
    var entry = current > 0 ? seq[current - 1] : null;
    if (!entry) { return; }
    if (entry.j >= 0 && !entry.whole) {
      toggleOpen();
    } else if (entry.layer >= 0 && !entry.isLayer) {
      var l = entry.layer;
      openedLayer[l] = false;
      build();
      goFirst(function (e) { return e.layer === l; });
    }
  }

  function setView(v) {
    var entry = current > 0 ? seq[current - 1] : null;
    var k = entry ? entry.steps[entry.steps.length - 1] : 0;
    view = v;
    build();
    if (buttons.view) { buttons.view.textContent = "view: " + view; }
    // stay where the pass was: the first position that has applied step k
    var p = 0;
    if (k > 0) {
      for (var q = 0; q < seq.length; q++) {
        if (seq[q].steps.indexOf(k) >= 0) { p = q + 1; break; }
      }
    }
    show(p);
  }

  // the drawing shown: neuron boxes while stepping closed neurons, else the edge drawing
  function useDrawing(p) {
    var entry = p > 0 ? seq[p - 1] : null;
    var boxes = view !== "edges" && drawings.neurons && !(entry && entry.j >= 0 && !entry.whole);
    var want = boxes ? drawings.neurons : drawings.edges;
    if (want === drawn) { return; }
    drawn = want;
    edgeCanvas.hidden = boxes;
    if (boxCanvas) { boxCanvas.hidden = !boxes; }
    if (!drawn.zoomed) { fit(); }
  }

  // zoom: fit the drawing to its pane, never below a readable text size
  function applyScale() {
    drawn.svg.setAttribute("width", String(drawn.width * drawn.scale));
    drawn.svg.setAttribute("height", String(drawn.height * drawn.scale));
  }
  function fitIn(w, h) {
    var s = Math.min((w - 16) / drawn.width, (h - 16) / drawn.height);
    return Math.max(drawn.minScale, Math.min(data.maxScale, s));
  }
  function fit() {
    // side by side; but a wide, low drawing gets the full width above the tables
    root.classList.remove("gs-wide");
    var s = fitIn(pane.clientWidth, pane.clientHeight);
    var tall = main.clientHeight;
    if (drawn.width * s > pane.clientWidth && drawn.height * s < 0.6 * tall
        && getComputedStyle(main).flexDirection === "row") {
      root.classList.add("gs-wide");
      s = fitIn(main.clientWidth, 0.5 * tall);  // the pane's max-height: 50%
    }
    drawn.scale = s;
    drawn.zoomed = false;
    applyScale();
  }
  function zoom(factor) {
    drawn.scale = Math.max(0.1, Math.min(8, drawn.scale * factor));
    drawn.zoomed = true;
    applyScale();
  }

  function go(what) {
    if (what === "prev") { show(current - 1); }
    else if (what === "next") { show(current + 1); }
    else if (what === "home") { show(0); }
    else if (what === "end") { show(seq.length); }
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
  if (buttons.reveal) {
    buttons.reveal.addEventListener("click", function () {
      revealAll = !revealAll;
      buttons.reveal.textContent = revealAll ? "answers: all" : "answers: as you go";
      show(current, true);
    });
    buttons.reveal.textContent = revealAll ? "answers: all" : "answers: as you go";
  }
  if (buttons.view) {
    buttons.view.addEventListener("click", function () {
      setView(views[(views.indexOf(view) + 1) % views.length]);
    });
    buttons.view.textContent = "view: " + view;
  }
  if (buttons.open) {
    buttons.open.addEventListener("click", toggleOpen);
  }
  data.neurons.forEach(function (neuron, j) {
    [byId(neuron.cluster), byId("nb" + j)].forEach(function (target) {
      if (target) { clickable(target, j); }
    });
  });
  function clickable(cluster, j) {
    cluster.classList.add("gs-neuron");
    cluster.addEventListener("click", function (e) {
      if (view === "edges" || moved) { return; }
      e.stopPropagation();
      // a first click goes to the neuron (or its layer), a second opens it
      var first = data.neurons[j].steps[0];
      for (var q = 0; q < seq.length; q++) {
        if (seq[q].steps.indexOf(first) >= 0) {
          if (q + 1 === current && seq[q].whole) { toggleOpen(); } else { show(q + 1); }
          return;
        }
      }
    });
  }
  Object.keys(rows).forEach(function (k) {
    rows[k].addEventListener("click", function () {
      var step = parseInt(k, 10);
      if (step === 0) { show(0); return; }
      for (var q = 0; q < seq.length; q++) {
        if (seq[q].steps.indexOf(step) >= 0) { show(q + 1); return; }
      }
    });
  });
  var keyTarget = data.embedded ? root : document;
  keyTarget.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    if ((e.key === "Enter" || e.key === "Escape") && view !== "edges") {
      e.preventDefault();
      if (e.key === "Enter") { toggleOpen(); } else { closeInner(); }
      return;
    }
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
  var moved = false;
  pane.addEventListener("mousedown", function (e) {
    drag = [e.clientX, e.clientY, pane.scrollLeft, pane.scrollTop];
    moved = false;
    pane.classList.add("gs-dragging");
  });
  window.addEventListener("mouseup", function () {
    drag = null;
    pane.classList.remove("gs-dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    if (Math.abs(e.clientX - drag[0]) + Math.abs(e.clientY - drag[1]) > 4) { moved = true; }
    pane.scrollLeft = drag[2] - (e.clientX - drag[0]);
    pane.scrollTop = drag[3] - (e.clientY - drag[1]);
  });
  window.addEventListener("resize", function () { if (!drawn.zoomed) { fit(); } });
  if (!data.embedded) {
    window.addEventListener("hashchange", function () { show(fromHash(), true); });
  }
  function fromHash() {
    var m = /step=(\d+)/.exec(window.location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }

  build();
  fit();
  useDrawing(0);
  show(data.embedded ? 0 : fromHash(), true);
}
