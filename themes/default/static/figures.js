/* PNG and SVG export of tracesite's Bokeh figures (render/figures.py), from BokehJS's own
   exporter: PlotView.export("png" | "svg").to_blob(). Works from file:// too (no server). */
(function () {
  "use strict";
  if (window.tracesiteFigures) return; // a page may include this script more than once
  window.tracesiteFigures = true;
  function plotView(id) {
    var index = window.Bokeh && window.Bokeh.index;
    if (!index) return null;
    if (typeof index.find_one_by_id === "function") return index.find_one_by_id(id);
    if (typeof index.get_by_id === "function") return index.get_by_id(id);
    if (index[id]) return index[id];
    var roots = typeof index.roots === "function" ? index.roots() : Object.values(index);
    for (var i = 0; i < roots.length; i++) {
      var v = roots[i];
      if (v && v.model && v.model.id === id) return v;
    }
    return null;
  }
  function save(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest(".ts-figure [data-export]");
    if (!button) return;
    var fig = button.closest(".ts-figure");
    var view = plotView(fig.getAttribute("data-plot"));
    if (!view || typeof view.export !== "function") {
      button.textContent = "not ready";
      return;
    }
    var type = button.getAttribute("data-export");
    view.export(type, true).to_blob().then(function (blob) {
      save(blob, (fig.getAttribute("data-figure") || "figure") + "." + type);
    });
  });
})();
