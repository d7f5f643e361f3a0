// seawall console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // `make demo` prints /login#token=...: the token stays in the fragment (never sent to the
  // server nor to a log), fills the form and is dropped from the address bar.
  function loginFromFragment() {
    var form = document.getElementById("login-form");
    if (!form || !location.hash) return;
    var m = /^#token=([A-Za-z0-9_\-]+)$/.exec(location.hash);
    history.replaceState(null, "", location.pathname + location.search);
    if (!m) return;
    document.getElementById("token").value = m[1];
    form.submit();
  }
  // forms marked data-confirm ask before they post
  function confirmForms() {
    document.addEventListener("submit", function (ev) {
      var f = ev.target;
      if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) ev.preventDefault();
    }, true);
  }
  document.addEventListener("DOMContentLoaded", function () { loginFromFragment(); confirmForms(); });
})();
