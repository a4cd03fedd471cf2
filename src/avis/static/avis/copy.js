// "Copy" buttons: <button data-copy="element-id"> copies that element's text. Without
// JavaScript (or a clipboard) the text stays on the page, selectable by hand.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  var source = document.getElementById(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.value !== undefined ? source.value : source.textContent).then(function () {
    var label = button.textContent;
    button.textContent = button.dataset.copied || "✓";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
