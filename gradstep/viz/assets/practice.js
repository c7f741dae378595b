// gradstep's practice page: answer fields checked against the data Python wrote (each
// question's answer and the value each known mistake gives); this script only reads a typed
// number and compares numbers. Progress is kept in localStorage under the exercise's key.
function gradstepPractice(root) {
  "use strict";
  if (!root || root.dataset.ready) return;
  var data = JSON.parse(root.querySelector(".gp-data").textContent);
  var qs = data.questions;
  var inputs = Array.prototype.slice.call(root.querySelectorAll("input[data-q]"));
  var feedback = root.querySelector(".gp-feedback");
  var progress = root.querySelector(".gp-progress");
  var recordBody = root.querySelector(".gp-record tbody");
  var summary = root.querySelector(".gp-summary");
  var state = load();

  // ---------------------------------------------------------------- reading a number
  // numbers, + - * / ** ^ ( ), unary signs, e and pi: what gradstep's answer parser reads
  function parseNumber(text) {
    var s = text.replace(/\u2212/g, "-").replace(/[\u00d7\u00b7]/g, "*").replace(/\u00f7/g, "/")
      .replace(/\u03c0/g, " pi ").replace(/\^/g, "**");
    var tokens = [], m, re = /\s*(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\*\*|[-+*\/()]|[A-Za-z_]\w*)/y;
    re.lastIndex = 0;
    while (re.lastIndex < s.length) {
      var at = re.lastIndex;
      m = re.exec(s);
      if (!m) {
        if (/^\s*$/.test(s.slice(at))) break;
        throw new Error("cannot read '" + text.trim() + "' as a number");
      }
      tokens.push(m[1]);
    }
    var i = 0;
    function peek() { return tokens[i]; }
    function next() { return tokens[i++]; }
    function expr() {
      var v = term();
      while (peek() === "+" || peek() === "-") { v = next() === "+" ? v + term() : v - term(); }
      return v;
    }
    function term() {
      var v = unary();
      while (peek() === "*" || peek() === "/") {
        if (next() === "*") { v = v * unary(); }
        else { var d = unary(); if (d === 0) throw new Error("division by zero"); v = v / d; }
      }
      return v;
    }
    function unary() {
      if (peek() === "-") { next(); return -unary(); }
      if (peek() === "+") { next(); return unary(); }
      return power();
    }
    function power() {
      var base = atom();
      if (peek() === "**") { next(); return Math.pow(base, unary()); }
      return base;
    }
    function atom() {
      var t = next();
      if (t === undefined) throw new Error("'" + text.trim() + "' ends too soon");
      if (t === "(") {
        var v = expr();
        if (next() !== ")") throw new Error("a '(' is not closed");
        return v;
      }
      if (t === "e") return Math.E;
      if (t === "pi") return Math.PI;
      if (/^[\d.]/.test(t)) return parseFloat(t);
      throw new Error("'" + t + "' is not a number (write a decimal, a fraction like 1/2, " +
        "arithmetic like -0.5*3, e or pi)");
    }
    if (!tokens.length) throw new Error("type a number (or ? for a hint, ! to see the answer)");
    var value = expr();
    if (i !== tokens.length) throw new Error("cannot read '" + text.trim() + "' as a number");
    if (!isFinite(value)) throw new Error("'" + text.trim() + "' is not a finite number");
    return value;
  }

  function close(got, want) {
    return Math.abs(got - want) <= Math.max(data.atol, data.rtol * Math.abs(want));
  }

  function fmt(x) {
    var t = String(Number(x.toPrecision(4)));
    return t === "-0" ? "0" : t;
  }

  // the same order as Exercise.check: right, else the first known mistake, else the hint
  function check(q, x) {
    if (close(x, q.answer)) return { correct: true, kind: null, message: "right" };
    for (var j = 0; j < q.mistakes.length; j++) {
      var m = q.mistakes[j];
      if (close(x, m.value)) return { correct: false, kind: m.kind, message: m.message };
    }
    return { correct: false, kind: "other", message: q.other.replace("{got}", fmt(x)) };
  }

  // ---------------------------------------------------------------- progress
  function fresh() { return { done: {}, mistakes: {}, hints: {} }; }
  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(data.key) || "null");
      if (saved && saved.done) return saved;
    } catch (err) { /* no storage (a sandboxed frame): progress lasts this visit only */ }
    return fresh();
  }
  function save() {
    try { window.localStorage.setItem(data.key, JSON.stringify(state)); } catch (err) { }
  }
  function current() {
    for (var j = 0; j < qs.length; j++) if (!state.done[qs[j].number]) return qs[j];
    return null;
  }

  // ---------------------------------------------------------------- showing it
  function el(id) { return root.querySelector("#" + data.prefix + id); }
  function mark(id, cls, on) { var g = el(id); if (g) g.classList.toggle(cls, on); }

  function render() {
    var q = current();
    var doneSteps = {};
    qs.forEach(function (x) {
      var input = inputs[x.number - 1];
      var d = state.done[x.number];
      input.disabled = !(q && q.number === x.number);
      input.classList.toggle("gp-right", !!d && !d.revealed);
      input.classList.toggle("gp-revealed", !!d && d.revealed);
      if (d) input.value = d.text;
      if (d && x.kind === "grad") doneSteps[x.step] = true;
    });
    root.querySelectorAll("tr[data-step]").forEach(function (tr) {
      var step = Number(tr.dataset.step);
      tr.classList.toggle("gp-reached", !!q ? step <= q.step : true);
      tr.classList.toggle("gp-active", !!q && step === q.step);
    });
    qs.forEach(function (x) {
      if (x.kind !== "grad") return;
      mark(x.edge, "gp-done", !!doneSteps[x.step]);
      mark(x.edge, "gp-current", !!q && q.step === x.step);
    });
    var n = Object.keys(state.done).length;
    progress.textContent = n + " of " + qs.length + " numbers";
    renderRecord();
    root.dataset.current = q ? String(q.number) : "done";
  }

  function renderRecord() {
    var rows = [], first = 0, revealed = 0, counts = {};
    qs.forEach(function (x) {
      var d = state.done[x.number], ms = state.mistakes[x.number] || [];
      ms.forEach(function (k) { counts[k] = (counts[k] || 0) + 1; });
      if (!d && !ms.length) return;
      if (d && d.revealed) revealed++;
      if (d && !d.revealed && !ms.length && !state.hints[x.number]) first++;
      var answer = d ? (d.revealed ? "revealed: " + x.shown : d.text) : "…";
      var seen = {}, order = [];
      ms.forEach(function (k) { if (!seen[k]) order.push(k); seen[k] = (seen[k] || 0) + 1; });
      var labels = order.map(function (k) {
        return data.kinds[k] + (seen[k] > 1 ? " (\u00d7" + seen[k] + ")" : "");
      }).join("; ") || "none";
      var what = (x.kind === "local" ? "local " : "") + x.prompt;
      rows.push("<tr><td>" + x.number + "</td><td>" + esc(what) + "</td><td>" +
        esc(answer) + "</td><td>" + esc(labels) + "</td></tr>");
    });
    recordBody.innerHTML = rows.join("");
    var kinds = Object.keys(counts).map(function (k) { return data.kinds[k] + ": " + counts[k]; });
    summary.textContent = Object.keys(state.done).length + " of " + qs.length +
      " numbers done, " + first + " right first time, " + revealed + " revealed; mistakes: " +
      (kinds.join(", ") || "none");
  }

  function esc(t) {
    return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function say(text, kind) {
    feedback.textContent = text;
    feedback.className = "gp-feedback" + (kind ? " gp-" + kind : "");
  }

  function focusCurrent() {
    var q = current();
    if (q) inputs[q.number - 1].focus({ preventScroll: false });
  }

  // ---------------------------------------------------------------- answering
  function answer(text) {
    var q = current();
    if (!q) return;
    var t = text.trim();
    if (t === "?") return hint();
    if (t === "!") return reveal();
    var x;
    try { x = parseNumber(t); } catch (err) { say(err.message, "error"); again(q); return; }
    var f = check(q, x);
    if (f.correct) {
      state.done[q.number] = { text: t, revealed: false };
      say("right: " + q.worked, "right");
    } else {
      (state.mistakes[q.number] = state.mistakes[q.number] || []).push(f.kind);
      say("wrong: " + f.message, "wrong");
    }
    save();
    render();
    if (f.correct) focusCurrent(); else again(q);
    if (!current()) say("done: " + summary.textContent, "right");
  }
  // a wrong or unreadable number stays in its field, selected: typing replaces it
  function again(q) {
    var input = inputs[q.number - 1];
    input.focus();
    input.select();
  }
  function hint() {
    var q = current();
    if (!q) return;
    again(q);
    state.hints[q.number] = (state.hints[q.number] || 0) + 1;
    save();
    say("hint: " + q.hint, "hint");
    renderRecord();
  }
  function reveal() {
    var q = current();
    if (!q) return;
    state.done[q.number] = { text: q.shown, revealed: true };
    save();
    say("the answer: " + q.prompt + " = " + q.shown, "hint");
    render();
    focusCurrent();
  }

  inputs.forEach(function (input) {
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); answer(input.value); }
    });
  });
  root.querySelectorAll("button[data-do]").forEach(function (b) {
    b.addEventListener("click", function () {
      var what = b.dataset.do;
      if (what === "hint") hint();
      else if (what === "reveal") reveal();
      else if (what === "print") window.print();
      else if (what === "restart") {
        state = fresh();
        save();
        inputs.forEach(function (i) { i.value = ""; });
        say("", "");
        render();
        focusCurrent();
      }
    });
  });

  root.gradstepParse = parseNumber;  // for tests: the number reader the page uses
  render();
  if (!root.closest(".jp-OutputArea, .output_area")) focusCurrent();
  root.dataset.ready = "1";
}
