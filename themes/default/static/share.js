/* The trace page's "copy link" button: copies the page's URL with the position being looked at
 * (#pos-N), which the heatmap announces with a `tracesite:position` event ({detail: {pos}}) and
 * which a #pos-N address sets. navigator.clipboard needs a secure context (https, localhost);
 * from file:// or plain http the button falls back to a selected text field and
 * document.execCommand("copy"), and says where it could not copy. */
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  if (!button) return;
  var status = document.getElementById("copy-link-status");
  var label = button.textContent;
  var pos = 0;
  var timer = 0;

  function fromHash() {
    var m = /^#pos-(\d+)$/.exec(location.hash);
    if (m) pos = parseInt(m[1], 10);
  }

  function link() {
    var base = location.href.split("#")[0];
    return pos > 0 ? base + "#pos-" + pos : base;
  }

  function copyByHand(text) {
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.style.position = "fixed";
    field.style.opacity = "0";
    document.body.appendChild(field);
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(field);
    return ok;
  }

  function show(ok, text) {
    button.classList.toggle("copied", ok);
    button.textContent = ok ? "copied" : label;
    if (status) status.textContent = ok ? "Link copied: " + text : "Copy this link: " + text;
    clearTimeout(timer);
    timer = setTimeout(function () {
      button.classList.remove("copied");
      button.textContent = label;
      if (ok && status) status.textContent = "";
    }, 2000);
  }

  fromHash();
  window.addEventListener("hashchange", fromHash);
  document.addEventListener("tracesite:position", function (event) {
    var p = event.detail && Number(event.detail.pos);
    if (p > 0 && Math.floor(p) === p) pos = p;
  });
  button.addEventListener("click", function () {
    var text = link();
    button.setAttribute("data-link", text);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { show(true, text); },
        function () { show(copyByHand(text), text); }
      );
    } else {
      show(copyByHand(text), text);
    }
  });
})();
