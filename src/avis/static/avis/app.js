// Behaviour the templates ask for with data- attributes, so that the Content-Security-Policy
// needs no inline script (no onchange=, no hx-on).
// <select data-autosubmit>: choosing a value submits its form.
document.addEventListener("change", function (event) {
  var field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.submit();
});
// <form data-reset-after-request>: emptied once htmx has sent it.
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target.closest && event.target.closest("form[data-reset-after-request]");
  if (form && event.detail.successful) form.reset();
});
