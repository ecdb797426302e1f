/* tracesite shards: load the gallery's on-demand data files (docs/scale.md).
 *
 * Every shard is a .js file that calls window.TRACESITE_SHARD(name, payload); a <script> tag is
 * the one way to load data that works from file:// (fetch and XHR are refused there). Shards may
 * arrive in any order; each name is loaded once and its promise cached. Keys ending in a type
 * suffix (":f64", ":u32", ":u16", ":u8", ":i8", ":i16", ":i32", ":f32", ":f16") hold base64 of
 * little-endian typed arrays, or [fill, n] for n equal integers; ":utf8" holds text whose UTF-8
 * bytes are the array. They are decoded, and the suffix dropped ("v:f64" -> v).
 *
 *   TracesiteShards.load(root, "meta").then(function (meta) { ... });
 *   TracesiteShards.load(root, "tok-3")   // assets/tokens/3.js
 *   TracesiteShards.forget("tok-3")       // drop a big shard once it is read
 */
(function () {
  "use strict";
  if (window.TracesiteShards) return;

  var TYPES = {
    f64: Float64Array, f32: Float32Array, i32: Int32Array, u32: Uint32Array,
    i16: Int16Array, u16: Uint16Array, i8: Int8Array, u8: Uint8Array
  };
  var waiting = new Map(); // name -> {resolve, reject}
  var loaded = new Map();  // name -> Promise of the decoded payload
  var early = new Map();   // payloads that arrived before anyone asked (a page's own <script>)
  var encoder = new TextEncoder();

  function bytesOf(b64) {
    var bin = atob(b64), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /** IEEE half floats to Float32 (Float16Array is not in every browser yet). */
  function halves(u8) {
    var h = new Uint16Array(u8.buffer, 0, u8.length >> 1), out = new Float32Array(h.length);
    for (var i = 0; i < h.length; i++) {
      var x = h[i], s = x & 0x8000 ? -1 : 1, e = (x >> 10) & 31, f = x & 1023;
      out[i] = e === 0 ? s * f * 5.960464477539063e-8
        : e === 31 ? (f ? NaN : s * Infinity)
        : s * Math.pow(2, e - 15) * (1 + f / 1024);
    }
    return out;
  }

  function typed(b64, kind) {
    var u8 = bytesOf(b64); // a fresh buffer at offset 0, so any element size is aligned
    if (kind === "f16") return halves(u8);
    var T = TYPES[kind];
    return T === Uint8Array ? u8 : new T(u8.buffer, 0, u8.length / T.BYTES_PER_ELEMENT);
  }

  /** A typed value: base64, text for ":utf8" (the string table, a third smaller than base64),
   *  or [fill, n] for an integer array whose values are all the same. */
  function value(val, kind) {
    if (Array.isArray(val)) {
      var T = kind === "f16" ? Float32Array : TYPES[kind], out = new T(val[1]);
      return out.fill(val[0]);
    }
    if (kind === "utf8") return encoder.encode(val);
    return typed(val, kind);
  }
  function isTyped(key, val) {
    var cut = key.lastIndexOf(":"), kind = key.slice(cut + 1);
    if (cut <= 0 || !(kind === "f16" || kind === "utf8" || TYPES.hasOwnProperty(kind))) return null;
    if (typeof val === "string" || (Array.isArray(val) && val.length === 2 && typeof val[0] === "number")) return kind;
    return null;
  }

  /** Decode typed-array keys in place, through nested objects and arrays of objects. */
  function decode(v) {
    if (Array.isArray(v)) {
      if (v.length && typeof v[0] === "object") for (var i = 0; i < v.length; i++) v[i] = decode(v[i]);
      return v;
    }
    if (!v || typeof v !== "object") return v;
    var keys = Object.keys(v);
    for (var k = 0; k < keys.length; k++) {
      var key = keys[k], val = v[key], kind = isTyped(key, val);
      if (kind) {
        delete v[key];
        v[key.slice(0, key.lastIndexOf(":"))] = value(val, kind);
      } else if (val && typeof val === "object") {
        v[key] = decode(val);
      }
    }
    return v;
  }

  /** A token shard's traces share one string table ("strings": {sb, so}); a trace that uses it
   *  has its indices in "st" ({tok, atok}). Each such trace gets the columns heatmap.js reads
   *  (tok, atok, sb, so, nent, bad) as if the table were its own. */
  function shareStrings(p) {
    if (!p || !p.traces || !p.strings) return p;
    var sb = p.strings.sb, so = p.strings.so, nent = new Int32Array([so.length - 1]);
    var none = new Int32Array(0);
    p.traces.forEach(function (t) {
      if (!t.st) return;
      t.cols.tok = t.st.tok; t.cols.atok = t.st.atok;
      t.cols.sb = sb; t.cols.so = so; t.cols.nent = nent; t.cols.bad = none;
      delete t.st;
    });
    return p;
  }

  /** The file of a shard, relative to the site root. */
  function path(name) {
    if (name.slice(0, 4) === "tok-") return "assets/tokens/" + name.slice(4) + ".js";
    return "assets/index/" + name + ".js";
  }

  window.TRACESITE_SHARD = function (name, payload) {
    var w = waiting.get(name);
    if (w) { waiting.delete(name); w.resolve(payload); } else early.set(name, payload);
  };

  function load(root, name) {
    var hit = loaded.get(name);
    if (hit) return hit;
    var p = new Promise(function (resolve, reject) {
      if (early.has(name)) { var e = early.get(name); early.delete(name); resolve(e); return; }
      waiting.set(name, { resolve: resolve, reject: reject });
      var s = document.createElement("script");
      s.src = (root || "") + path(name);
      s.async = true;
      s.onload = function () {
        s.remove();
        var w = waiting.get(name);  // loaded but never announced itself: a wrong file
        if (w) { waiting.delete(name); w.reject(new Error("shard " + name + " did not load")); }
      };
      s.onerror = function () {
        s.remove();
        waiting.delete(name);
        reject(new Error("shard " + name + " is missing (" + s.src + ")"));
      };
      document.head.appendChild(s);
    }).then(decode).then(shareStrings);
    p.catch(function () { loaded.delete(name); }); // a failed load may be retried
    loaded.set(name, p);
    return p;
  }

  function forget(name) { loaded.delete(name); }

  /** 32-bit FNV-1a of a string's UTF-8 bytes (the buckets of s-<b> and k-<b>). */
  function fnv1a(s) {
    var b = encoder.encode(s), h = 0x811c9dc5;
    for (var i = 0; i < b.length; i++) { h ^= b[i]; h = Math.imul(h, 16777619) >>> 0; }
    return h >>> 0;
  }

  /** Search terms of a text as the build makes them (build/shards.py): runs of letters, digits
   *  and "_" (Python's \w), each NFKC-normalised, lower-cased and cut to 40 characters. */
  var TERM = /[\p{L}\p{N}_]+/gu;
  function terms(text) {
    var out = [], m, s = String(text);
    TERM.lastIndex = 0;
    while ((m = TERM.exec(s))) out.push(Array.from(m[0].normalize("NFKC").toLowerCase()).slice(0, 40).join(""));
    return out;
  }

  /** A token's key in k-<b>: its text without surrounding whitespace (Python's str.strip(),
   *  whose whitespace differs from String.trim()'s), lower-cased. */
  var EDGE_SPACE = /^[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
  function tokenKey(text) { return String(text).replace(EDGE_SPACE, "").toLowerCase(); }

  window.TracesiteShards = {
    load: load, forget: forget, decode: decode, path: path,
    fnv1a: fnv1a, terms: terms, tokenKey: tokenKey,
    bucket: function (s, n) { return fnv1a(s) % n; }
  };
})();
