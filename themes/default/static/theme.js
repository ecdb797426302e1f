/* Light/dark toggle: follows the system until the reader picks one; the choice is remembered. */
(function () {
  var root = document.documentElement;
  var button = document.getElementById("theme-toggle");
  if (!button) return;
  button.addEventListener("click", function () {
    var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem("tracesite-theme", next); } catch (e) { /* file:// in some browsers */ }
    document.dispatchEvent(new CustomEvent("tracesite:theme", { detail: next }));
  });
})();
