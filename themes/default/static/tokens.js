/* Token queries over the whole gallery, in the browser: token:"Wait" p<0.3, alt:"wait",
 * entropy>2, any channel by name. The token index (k-<b> shards, docs/scale.md) names the token
 * shards where a key occurs; they are loaded one at a time, scanned, and dropped, and each hit
 * is reported as soon as it is found. Columns are read as heatmap.js reads them (string table,
 * chosen logprobs from the listed alternatives, channels as channels.js unpacks them).
 */
(function () {
  "use strict";
  if (window.TracesiteTokenQuery) return;
  var S = window.TracesiteShards;
  var decoder = new TextDecoder("utf-8"), encoder = new TextEncoder();

  /** The entries of a trace's string table whose token key is `key`. */
  function matchingEntries(cols, key, keyBytes) {
    var sb = cols.sb, so = cols.so, n = cols.nent[0], out = new Set();
    var ascii = keyBytes.every(function (b) { return b < 128; });
    for (var e = 0; e < n; e++) {
      var a = so[e], b = so[e + 1];
      if (ascii) { // fast path: a byte comparison unless the entry has non-ASCII bytes
        while (a < b && isSpace(sb[a])) a++;
        while (b > a && isSpace(sb[b - 1])) b--;
        var plain = true;
        for (var k = a; k < b; k++) if (sb[k] >= 128) { plain = false; break; }
        if (plain) {
          if (b - a === keyBytes.length && sameLower(sb, a, keyBytes)) out.add(e);
          continue;
        }
      }
      if (S.tokenKey(decoder.decode(sb.subarray(so[e], so[e + 1]))) === key) out.add(e);
    }
    return out;
  }
  function isSpace(c) { return c === 32 || (c >= 9 && c <= 13) || (c >= 28 && c <= 31); } // str.strip()'s
  function sameLower(sb, a, keyBytes) {
    for (var k = 0; k < keyBytes.length; k++) {
      var c = sb[a + k];
      if (c >= 65 && c <= 90) c += 32;
      if (c !== keyBytes[k]) return false;
    }
    return true;
  }

  /** One trace of a token shard, unpacked for reading values at positions. */
  function Trace(t) {
    var c = t.cols;
    this.id = t.i;
    this.cols = c;
    var cfg = t.cfg !== undefined ? t.cfg : c.cfg;
    this.cfg = typeof cfg === "string" ? JSON.parse(cfg) : cfg || {};
    this.n = c.tok.length;
    this.off = new Int32Array(this.n + 1);
    for (var i = 0; i < this.n; i++) this.off[i + 1] = this.off[i] + c.nalt[i];
    this.lp = chosenLogprobs(c, this.n);
    if (c.chvx) for (var x = 0; x < c.chvx.length; x++) c.chv[c.chvx[x]] = c.chvy[x]; // float16 misses
    this.byName = null;
  }
  function chosenLogprobs(c, n) {
    var lp = new Float64Array(n), k = 0, j = 0;
    for (var i = 0; i < n; i++) {
      lp[i] = c.ci[i] < 0 ? c.lpo[k++] : c.alp[j + c.ci[i]];
      j += c.nalt[i];
    }
    for (var d = 0; d < c.lpdi.length; d++) lp[c.lpdi[d]] = c.lpdv[d];
    return lp;
  }
  Trace.prototype.str = function (e) {
    return decoder.decode(this.cols.sb.subarray(this.cols.so[e], this.cols.so[e + 1]));
  };
  /** Entropy (a lower bound, in bits) at position i, as heatmap.js and the model compute it. */
  Trace.prototype.entropy = function (i) {
    var c = this.cols, listed = 0, h = 0, p = Math.exp(this.lp[i]);
    for (var j = this.off[i]; j < this.off[i + 1]; j++) {
      var q = Math.exp(c.alp[j]);
      if (q > 0) { listed += q; h -= q * Math.log2(q); }
    }
    if (c.ci[i] < 0 && isFinite(this.lp[i]) && p > 0) { listed += p; h -= p * Math.log2(p); }
    var r = Math.min(1, Math.max(0, 1 - listed));
    if (r > 0) h -= r * Math.log2(r);
    return h;
  };
  /** Channel values by name (channels.js's unpacking), made on first need. */
  Trace.prototype.channels = function () {
    if (this.byName) return this.byName;
    var n = this.n, c = this.cols, by = { logprob: this.lp };
    (this.cfg.ch || []).forEach(function (e) {
      var v, i;
      if (e.o != null) v = c.chv.subarray(e.o * n, (e.o + 1) * n);
      else if (e.v != null) v = new Float64Array(n).fill(e.v);
      else if (e.m) { v = new Float64Array(n); for (i = 0; i < n; i++) v[i] = (c.chm[i >> 3] >> (i & 7)) & 1; }
      else if (e.d) {
        var a = by[e.d[0]], b = by[e.d[1]];
        v = new Float64Array(n);
        for (i = 0; i < n; i++) { var d = a[i] - b[i]; v[i] = e.e ? Math.exp(d) : d; }
      } else v = new Float64Array(n).fill(NaN);
      by[e.n] = v;
    });
    this.byName = by;
    return by;
  };
  /** The value a condition names at position i (p of the matched alternative for alt:). */
  Trace.prototype.value = function (field, i, altJ) {
    var f = field.toLowerCase();
    if (f === "p") return altJ >= 0 ? Math.exp(this.cols.alp[altJ]) : Math.exp(this.lp[i]);
    if (f === "logprob" || f === "lp") return altJ >= 0 ? this.cols.alp[altJ] : this.lp[i];
    if (f === "entropy" || f === "h") return this.entropy(i);
    if (f === "pos" || f === "position") return i + 1 + (this.cfg.off || 0);
    var ch = this.channels();
    return Object.prototype.hasOwnProperty.call(ch, field) ? ch[field][i] : NaN;
  };

  function test(op, x, v) {
    if (x !== x) return false;
    switch (op) {
      case "<": return x < v; case "<=": return x <= v; case ">": return x > v;
      case ">=": return x >= v; case "=": return x === v; default: return x !== v;
    }
  }

  /** The hits of one trace, in position order: {trace, pos (1-based), token, p}. */
  function scan(t, entries, query) {
    var hits = [];
    var tok = t.cols.tok, atok = t.cols.atok, alt = query.token.alt;
    for (var i = 0; i < t.n; i++) {
      var j = -1;
      if (alt) {
        for (var a = t.off[i]; a < t.off[i + 1]; a++) if (entries.has(atok[a])) { j = a; break; }
        if (j < 0) continue;
      } else if (!entries.has(tok[i])) continue;
      var ok = true;
      for (var c = 0; c < query.conds.length && ok; c++) {
        var cond = query.conds[c];
        ok = test(cond.op, t.value(cond.field, i, j), cond.value);
      }
      if (!ok) continue;
      hits.push({
        trace: t.id, pos: i + 1 + (t.cfg.off || 0),
        token: t.str(j >= 0 ? atok[j] : tok[i]), p: j >= 0 ? Math.exp(t.cols.alp[j]) : Math.exp(t.lp[i])
      });
    }
    return hits;
  }

  /** A running query: next(limit, onHit) reports up to `limit` more hits and resolves to true
   *  when every listed shard has been scanned. */
  function start(root, meta, key, query, mask) {
    var keyBytes = Array.from(encoder.encode(key));
    var run = { stopped: false, next: null };
    var shards = S.load(root, "k-" + S.bucket(key, meta.token_buckets)).then(function (b) {
      return Object.prototype.hasOwnProperty.call(b, key) ? Array.from(b[key]) : [];
    });
    var s = 0, pending = [], cards = new Map();
    function card(id) {
      var k = Math.floor(id / (meta.card_shard || 64));
      if (!cards.has(k)) cards.set(k, S.load(root, "cards-" + k));
      return cards.get(k).then(function (list) { return list.find(function (c) { return c.i === id; }); });
    }
    function shardHits(list) {
      var name = "tok-" + meta.token_shards[list[s++]];
      return S.load(root, name).then(function (sh) {
        S.forget(name); // a token shard is big: read once, then let it go
        var shared = new Map(); // a shard's traces share one string table: match it once
        sh.traces.forEach(function (t) {
          if (mask && !mask[t.i]) return;
          var entries = shared.get(t.cols.sb);
          if (!entries) shared.set(t.cols.sb, entries = matchingEntries(t.cols, key, keyBytes));
          if (entries.size) pending = pending.concat(scan(new Trace(t), entries, query));
        });
      });
    }
    run.next = function (limit, onHit) {
      var shown = 0;
      return shards.then(function (list) {
        function step() {
          if (run.stopped) return true;
          if (pending.length && shown < limit) {
            var hit = pending.shift();
            shown++;
            return card(hit.trace).then(function (c) { if (!run.stopped) onHit(hit, c); return step(); });
          }
          if (shown >= limit) return s >= list.length && !pending.length;
          if (s >= list.length) return true;
          return shardHits(list).then(step);
        }
        return step();
      });
    };
    return run;
  }

  window.TracesiteTokenQuery = { start: start, scan: scan, Trace: Trace, matchingEntries: matchingEntries };
})();
