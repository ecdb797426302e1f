/* tracesite heatmap channels: the browser half of src/tracesite/render/channels.py.
 *
 * A trace that stores per-token channels (SPEC §15: trainer and reference logprobs, entropy,
 * advantages, a loss mask...) carries them in its embed: cfg.ch lists them in order, each with
 * where its values are (o: n float32 values at chv[o * n], v: one constant, m: the mask's bits
 * in chm, d: derived from two earlier channels or the sampler's logprob, e: exp of the
 * difference). This file unpacks them for heatmap.js, which colours by them (cfg.modes["ch:..."]
 * holds each mode's title, palette, range and ticks), dims masked positions and lists every
 * channel in the hover. Loaded before heatmap.js (the theme's files load in name order).
 */
(function () {
  "use strict";
  if (window.TracesiteChannels) return;

  /** A channel value with sensible digits: four decimals, fewer for big values, exponents for
   *  tiny and huge ones, integers as themselves. */
  function number(v) {
    if (v !== v) return "not given";
    if (v === Infinity) return "\u221e";
    if (v === -Infinity) return "\u2212\u221e";
    var a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e9) return String(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
    return v.toFixed(a >= 100 ? 1 : 4);
  }

  function Channels(h, col) {
    var n = h.n, list = h.cfg.ch, chv = col("chv"), chm = col("chm");
    var byName = { logprob: h.lp }, i;
    this.list = list;
    this.values = [];
    this.masked = null;
    for (var c = 0; c < list.length; c++) {
      var e = list[c], v;
      if (e.o != null) v = chv.subarray(e.o * n, (e.o + 1) * n);
      else if (e.v != null) { v = new Float64Array(n); v.fill(e.v); }
      else if (e.m) {
        v = new Float32Array(n);
        for (i = 0; i < n; i++) v[i] = (chm[i >> 3] >> (i & 7)) & 1;
      } else if (e.d) {
        var a = byName[e.d[0]], b = byName[e.d[1]];
        v = new Float64Array(n);
        for (i = 0; i < n; i++) { var d = a[i] - b[i]; v[i] = e.e ? Math.exp(d) : d; }
      } else v = new Float64Array(n).fill(NaN);
      byName[e.n] = v;
      this.values.push(v);
      if (e.n === "mask") {
        // as the model's Trace.mask: a position counts unless its mask is exactly 0
        this.masked = new Uint8Array(n);
        for (i = 0; i < n; i++) this.masked[i] = v[i] === 0 ? 1 : 0;
      }
    }
  }

  /** Colour value of a cell in a channel mode: the chosen token's value (a logprob as its p);
   *  alternatives have none (drawn grey). */
  Channels.prototype.value = function (look, i, j) {
    if (j >= 0) return NaN;
    var v = this.values[look.ch][i];
    return this.list[look.ch].k === "logprob" ? Math.exp(v) : v;
  };

  /** The hover's lines for position i: every channel by name with its value. */
  Channels.prototype.rows = function (i) {
    var out = [];
    for (var c = 0; c < this.list.length; c++) {
      var e = this.list[c], v = this.values[c][i], text = number(v);
      if (v === v && e.u) text += " " + e.u;
      if (e.k === "logprob" && v === v) text += " (p " + Math.exp(v).toFixed(4) + ")";
      if (e.n === "mask" && v === 0) text += " (masked)";
      out.push([e.n, text]);
    }
    return out;
  };

  window.TracesiteChannels = { Channels: Channels, number: number };
})();
